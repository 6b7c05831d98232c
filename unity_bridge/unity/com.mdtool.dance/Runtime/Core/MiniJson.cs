// Minimal JSON reader/writer for the timeline and pose-track header (no engine, no packages).
// Objects parse to Dictionary<string, object> (key order kept), arrays to List<object>,
// integers to long, other numbers to double, plus string, bool and null.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MdTool.Dance
{
    /// <summary>Thrown for malformed JSON or a document that is not what was expected.</summary>
    public class DanceFormatException : Exception
    {
        public DanceFormatException(string message) : base(message) { }
    }

    public static class MiniJson
    {
        public static object Parse(string text)
        {
            if (text == null) throw new DanceFormatException("JSON text is null");
            var parser = new Parser(text);
            parser.SkipSpace();
            object value = parser.ReadValue(0);
            parser.SkipSpace();
            if (!parser.AtEnd) throw parser.Error("trailing characters after the JSON value");
            return value;
        }

        public static string Serialize(object value)
        {
            var builder = new StringBuilder();
            Write(builder, value);
            return builder.ToString();
        }

        static void Write(StringBuilder b, object value)
        {
            if (value == null) { b.Append("null"); return; }
            var text = value as string;
            if (text != null) { WriteString(b, text); return; }
            if (value is bool) { b.Append((bool)value ? "true" : "false"); return; }
            if (value is long || value is int) { b.Append(Convert.ToInt64(value).ToString(CultureInfo.InvariantCulture)); return; }
            if (value is double || value is float)
            {
                double d = Convert.ToDouble(value);
                if (double.IsNaN(d) || double.IsInfinity(d)) throw new DanceFormatException("JSON cannot hold NaN or infinity");
                string s = d.ToString("R", CultureInfo.InvariantCulture);
                if (s.IndexOf('.') < 0 && s.IndexOf('E') < 0 && s.IndexOf('e') < 0) s += ".0";
                b.Append(s);
                return;
            }
            var dict = value as IDictionary<string, object>;
            if (dict != null)
            {
                b.Append('{');
                bool first = true;
                foreach (var pair in dict)
                {
                    if (!first) b.Append(", ");
                    first = false;
                    WriteString(b, pair.Key);
                    b.Append(": ");
                    Write(b, pair.Value);
                }
                b.Append('}');
                return;
            }
            var list = value as System.Collections.IEnumerable;
            if (list != null)
            {
                b.Append('[');
                bool first = true;
                foreach (object item in list)
                {
                    if (!first) b.Append(", ");
                    first = false;
                    Write(b, item);
                }
                b.Append(']');
                return;
            }
            throw new DanceFormatException("cannot write a " + value.GetType().Name + " as JSON");
        }

        static void WriteString(StringBuilder b, string s)
        {
            b.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': b.Append("\\\""); break;
                    case '\\': b.Append("\\\\"); break;
                    case '\n': b.Append("\\n"); break;
                    case '\r': b.Append("\\r"); break;
                    case '\t': b.Append("\\t"); break;
                    default:
                        if (c < 0x20) b.Append("\\u").Append(((int)c).ToString("x4"));
                        else b.Append(c);
                        break;
                }
            }
            b.Append('"');
        }

        sealed class Parser
        {
            const int MaxDepth = 64;
            readonly string text;
            int pos;

            public Parser(string text) { this.text = text; }

            public bool AtEnd { get { return pos >= text.Length; } }

            public DanceFormatException Error(string message)
            {
                return new DanceFormatException("invalid JSON at character " + pos + ": " + message);
            }

            public void SkipSpace()
            {
                while (pos < text.Length && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) pos++;
            }

            public object ReadValue(int depth)
            {
                if (depth > MaxDepth) throw Error("nested too deeply");
                if (AtEnd) throw Error("unexpected end");
                char c = text[pos];
                if (c == '{') return ReadObject(depth);
                if (c == '[') return ReadArray(depth);
                if (c == '"') return ReadString();
                if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                if (Match("true")) return true;
                if (Match("false")) return false;
                if (Match("null")) return null;
                throw Error("unexpected character '" + c + "'");
            }

            bool Match(string word)
            {
                if (string.CompareOrdinal(text, pos, word, 0, word.Length) != 0) return false;
                pos += word.Length;
                return true;
            }

            Dictionary<string, object> ReadObject(int depth)
            {
                var result = new Dictionary<string, object>();
                pos++;
                SkipSpace();
                if (!AtEnd && text[pos] == '}') { pos++; return result; }
                while (true)
                {
                    SkipSpace();
                    if (AtEnd || text[pos] != '"') throw Error("expected a string key");
                    string key = ReadString();
                    SkipSpace();
                    if (AtEnd || text[pos] != ':') throw Error("expected ':'");
                    pos++;
                    SkipSpace();
                    result[key] = ReadValue(depth + 1);
                    SkipSpace();
                    if (AtEnd) throw Error("unterminated object");
                    if (text[pos] == ',') { pos++; continue; }
                    if (text[pos] == '}') { pos++; return result; }
                    throw Error("expected ',' or '}'");
                }
            }

            List<object> ReadArray(int depth)
            {
                var result = new List<object>();
                pos++;
                SkipSpace();
                if (!AtEnd && text[pos] == ']') { pos++; return result; }
                while (true)
                {
                    SkipSpace();
                    result.Add(ReadValue(depth + 1));
                    SkipSpace();
                    if (AtEnd) throw Error("unterminated array");
                    if (text[pos] == ',') { pos++; continue; }
                    if (text[pos] == ']') { pos++; return result; }
                    throw Error("expected ',' or ']'");
                }
            }

            string ReadString()
            {
                var b = new StringBuilder();
                pos++;
                while (true)
                {
                    if (AtEnd) throw Error("unterminated string");
                    char c = text[pos++];
                    if (c == '"') return b.ToString();
                    if (c != '\\') { b.Append(c); continue; }
                    if (AtEnd) throw Error("unterminated escape");
                    char e = text[pos++];
                    switch (e)
                    {
                        case '"': b.Append('"'); break;
                        case '\\': b.Append('\\'); break;
                        case '/': b.Append('/'); break;
                        case 'b': b.Append('\b'); break;
                        case 'f': b.Append('\f'); break;
                        case 'n': b.Append('\n'); break;
                        case 'r': b.Append('\r'); break;
                        case 't': b.Append('\t'); break;
                        case 'u':
                            if (pos + 4 > text.Length) throw Error("short \\u escape");
                            b.Append((char)Convert.ToInt32(text.Substring(pos, 4), 16));
                            pos += 4;
                            break;
                        default: throw Error("unknown escape");
                    }
                }
            }

            object ReadNumber()
            {
                int start = pos;
                bool integer = true;
                if (text[pos] == '-') pos++;
                while (pos < text.Length)
                {
                    char c = text[pos];
                    if (c >= '0' && c <= '9') { pos++; continue; }
                    if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') { integer = false; pos++; continue; }
                    break;
                }
                string s = text.Substring(start, pos - start);
                long asLong;
                if (integer && long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out asLong)) return asLong;
                double asDouble;
                if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out asDouble)) return asDouble;
                throw Error("bad number '" + s + "'");
            }
        }
    }

    /// <summary>Typed access to parsed JSON with clear errors.</summary>
    public static class JsonRead
    {
        public static Dictionary<string, object> Object(object value, string what)
        {
            var d = value as Dictionary<string, object>;
            if (d == null) throw new DanceFormatException(what + " must be a JSON object");
            return d;
        }

        public static object Field(Dictionary<string, object> d, string key, string what)
        {
            object value;
            if (!d.TryGetValue(key, out value)) throw new DanceFormatException(what + " lacks '" + key + "'");
            return value;
        }

        public static double Number(object value, string what)
        {
            if (value is long) return (long)value;
            if (value is double) return (double)value;
            throw new DanceFormatException(what + " must be a number");
        }

        public static long Integer(object value, string what)
        {
            if (value is long) return (long)value;
            if (value is double && Math.Floor((double)value) == (double)value) return (long)(double)value;
            throw new DanceFormatException(what + " must be an integer");
        }

        public static string Text(object value, string what)
        {
            var s = value as string;
            if (s == null) throw new DanceFormatException(what + " must be a string");
            return s;
        }

        public static List<object> Array(object value, string what)
        {
            var l = value as List<object>;
            if (l == null) throw new DanceFormatException(what + " must be a JSON array");
            return l;
        }

        public static double[] Numbers(object value, string what)
        {
            var list = Array(value, what);
            var result = new double[list.Count];
            for (int i = 0; i < list.Count; i++) result[i] = Number(list[i], what);
            return result;
        }
    }
}
