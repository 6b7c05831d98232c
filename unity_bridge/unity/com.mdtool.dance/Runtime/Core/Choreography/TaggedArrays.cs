// Reader of mdtool's engine assets (musicdance.choreo.engine_asset): "MDTA", uint32 version,
// a kind string, then named little-endian arrays. One pass over the bytes, block copies into
// typed arrays, no JSON: the library loads in milliseconds.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace MdTool.Dance.Choreography
{
    /// <summary>An engine asset that cannot be used (wrong version, damaged, wrong kind).</summary>
    public class DanceAssetException : DanceFormatException
    {
        public DanceAssetException(string message) : base(message) { }
    }

    public sealed class TaggedArrays
    {
        public const int Version = 1;
        public readonly string Kind;
        readonly Dictionary<string, Array> arrays = new Dictionary<string, Array>();
        readonly Dictionary<string, long[]> shapes = new Dictionary<string, long[]>();

        TaggedArrays(string kind) { Kind = kind; }

        public static TaggedArrays Read(string path)
        {
            byte[] data;
            try { data = File.ReadAllBytes(path); }
            catch (IOException e) { throw new DanceAssetException(path + ": cannot read the asset (" + e.Message + ")"); }
            return Read(data, path);
        }

        public static TaggedArrays Read(byte[] data, string where)
        {
            if (!BitConverter.IsLittleEndian) throw new DanceAssetException(where + ": big-endian machines are not supported");
            if (data.Length < 16 || data[0] != 'M' || data[1] != 'D' || data[2] != 'T' || data[3] != 'A')
                throw new DanceAssetException(where + ": not an mdtool engine asset (MDTA magic missing)");
            uint version = BitConverter.ToUInt32(data, 4);
            if (version != Version)
                throw new DanceAssetException(where + ": engine asset version " + version + " is not supported (this package reads version "
                                              + Version + "); export it again with this mdtool: mdtool library export --unity DIR");
            int at = 8;
            int kindLength = (int)BitConverter.ToUInt32(data, at);
            at += 4;
            Need(data, at, kindLength, where);
            var result = new TaggedArrays(Encoding.ASCII.GetString(data, at, kindLength));
            at += kindLength;
            Need(data, at, 4, where);
            int count = (int)BitConverter.ToUInt32(data, at);
            at += 4;
            for (int i = 0; i < count; i++)
            {
                Need(data, at, 2, where);
                int nameLength = BitConverter.ToUInt16(data, at);
                Need(data, at + 2, nameLength + 2, where);
                string name = Encoding.UTF8.GetString(data, at + 2, nameLength);
                at += 2 + nameLength;
                int code = data[at], ndim = data[at + 1];
                at += 2;
                Need(data, at, 8 * ndim, where);
                var shape = new long[ndim];
                long n = 1;
                for (int d = 0; d < ndim; d++)
                {
                    shape[d] = BitConverter.ToInt64(data, at + 8 * d);
                    if (shape[d] < 0) throw new DanceAssetException(where + ": array " + name + " has a negative size");
                    n *= shape[d];
                }
                at += 8 * ndim;
                Array values;
                int size;
                switch (code)
                {
                    case 1: values = new float[n]; size = 4; break;
                    case 2: values = new double[n]; size = 8; break;
                    case 3: values = new int[n]; size = 4; break;
                    case 4: values = new long[n]; size = 8; break;
                    case 5: values = new byte[n]; size = 1; break;
                    case 6: values = new short[n]; size = 2; break;
                    default: throw new DanceAssetException(where + ": array " + name + " has unknown type code " + code);
                }
                long bytes = n * size;
                if (bytes > int.MaxValue) throw new DanceAssetException(where + ": array " + name + " is too large");
                Need(data, at, (int)bytes, where);
                Buffer.BlockCopy(data, at, values, 0, (int)bytes);
                at += (int)bytes;
                result.arrays[name] = values;
                result.shapes[name] = shape;
            }
            return result;
        }

        static void Need(byte[] data, int at, int count, string where)
        {
            if (count < 0 || at + count > data.Length) throw new DanceAssetException(where + ": the asset is truncated");
        }

        public bool Has(string name) { return arrays.ContainsKey(name); }

        public long[] Shape(string name) { Get<byte>(name, false); return shapes[name]; }

        T[] Get<T>(string name, bool typed)
        {
            Array value;
            if (!arrays.TryGetValue(name, out value)) throw new DanceAssetException("the " + Kind + " asset has no field " + name);
            if (!typed) return null;
            var result = value as T[];
            if (result == null) throw new DanceAssetException("field " + name + " of the " + Kind + " asset has the wrong type");
            return result;
        }

        public float[] Floats(string name) { return Get<float>(name, true); }
        public double[] Doubles(string name) { return Get<double>(name, true); }
        public int[] Ints(string name) { return Get<int>(name, true); }
        public short[] Shorts(string name) { return Get<short>(name, true); }
        public byte[] Bytes(string name) { return Get<byte>(name, true); }

        public string[] Strings(string name)
        {
            var utf8 = Bytes(name + ".utf8");
            var offsets = Ints(name + ".offsets");
            var result = new string[Math.Max(offsets.Length - 1, 0)];
            for (int i = 0; i < result.Length; i++)
                result[i] = Encoding.UTF8.GetString(utf8, offsets[i], offsets[i + 1] - offsets[i]);
            return result;
        }
    }
}
