// The timeline model: which phrase plays in which slot (schema mdtool.timeline version 1,
// docs/timeline.md). Parsed from the service's JSON; the raw document is kept so that the
// timeline goes back to the service unchanged (fields this version does not know included).
using System;
using System.Collections.Generic;

namespace MdTool.Dance
{
    public sealed class PhraseAlternative
    {
        public string PhraseId;
        public double Score;
    }

    public sealed class TimelineSlot
    {
        public int Index;
        public double StartS;
        public double EndS;
        public double[] BeatTimesS;
        public int Meter;
        public int MusicPhrase;
        public string SectionLabel;
        public int PositionInSection;
        public int PositionInPhrase;
        public double TempoBpm;
        public double Energy;
        public double OnsetDensityPerS;
        public string PhraseId;
        public double Score;
        public List<PhraseAlternative> Alternatives = new List<PhraseAlternative>();
        public double? TransitionPrior;

        public int NumCounts { get { return BeatTimesS.Length; } }
    }

    public sealed class DanceTimeline
    {
        public const string Schema = "mdtool.timeline";
        public const int Version = 1;

        public string SongPath;
        public double DurationS;
        public double TempoBpm;
        public int SongMeter;
        public string Library;
        public double Fps;
        public long Seed;
        public string Style;
        public string Decoder;
        public List<TimelineSlot> Slots = new List<TimelineSlot>();

        /// <summary>The parsed document, kept whole (see <see cref="ToJson"/>).</summary>
        public Dictionary<string, object> Raw;

        public static DanceTimeline Parse(string json)
        {
            return FromObject(MiniJson.Parse(json));
        }

        public static DanceTimeline FromObject(object parsed)
        {
            var d = JsonRead.Object(parsed, "timeline");
            object schema;
            if (!d.TryGetValue("schema", out schema) || !(schema is string) || (string)schema != Schema)
                throw new DanceFormatException("not an mdtool timeline (schema field missing)");
            long version = JsonRead.Integer(JsonRead.Field(d, "version", "timeline"), "timeline version");
            if (version != Version)
                throw new DanceFormatException("timeline version " + version + " is not supported (this reads version " + Version + ")");
            var t = new DanceTimeline { Raw = d };
            var song = JsonRead.Object(JsonRead.Field(d, "song", "timeline"), "timeline song");
            object path;
            song.TryGetValue("path", out path);
            t.SongPath = path as string;
            t.DurationS = JsonRead.Number(JsonRead.Field(song, "duration_s", "song"), "song duration_s");
            t.TempoBpm = JsonRead.Number(JsonRead.Field(song, "tempo_bpm", "song"), "song tempo_bpm");
            t.SongMeter = (int)JsonRead.Integer(JsonRead.Field(song, "meter", "song"), "song meter");
            t.Library = JsonRead.Text(JsonRead.Field(d, "library", "timeline"), "timeline library");
            t.Fps = JsonRead.Number(JsonRead.Field(d, "fps", "timeline"), "timeline fps");
            t.Seed = JsonRead.Integer(JsonRead.Field(d, "seed", "timeline"), "timeline seed");
            t.Style = JsonRead.Text(JsonRead.Field(d, "style", "timeline"), "timeline style");
            t.Decoder = JsonRead.Text(JsonRead.Field(d, "decoder", "timeline"), "timeline decoder");
            if (!(t.Fps > 0)) throw new DanceFormatException("timeline fps must be positive");
            var slots = JsonRead.Array(JsonRead.Field(d, "slots", "timeline"), "timeline slots");
            foreach (object item in slots) t.Slots.Add(ParseSlot(JsonRead.Object(item, "slot")));
            for (int i = 0; i < t.Slots.Count; i++)
            {
                var s = t.Slots[i];
                if (s.BeatTimesS.Length < 2 || !(s.EndS > s.StartS))
                    throw new DanceFormatException("slot " + i + " needs two beats and an end after its start");
                for (int k = 1; k < s.BeatTimesS.Length; k++)
                    if (!(s.BeatTimesS[k] > s.BeatTimesS[k - 1]))
                        throw new DanceFormatException("slot " + i + " beats must increase");
                if (i > 0 && s.StartS < t.Slots[i - 1].EndS - 1e-3)
                    throw new DanceFormatException("slot " + i + " starts before slot " + (i - 1) + " ends");
            }
            return t;
        }

        static TimelineSlot ParseSlot(Dictionary<string, object> s)
        {
            const string w = "slot";
            var slot = new TimelineSlot
            {
                Index = (int)JsonRead.Integer(JsonRead.Field(s, "index", w), "slot index"),
                StartS = JsonRead.Number(JsonRead.Field(s, "start_s", w), "slot start_s"),
                EndS = JsonRead.Number(JsonRead.Field(s, "end_s", w), "slot end_s"),
                BeatTimesS = JsonRead.Numbers(JsonRead.Field(s, "beat_times_s", w), "slot beat_times_s"),
                Meter = (int)JsonRead.Integer(JsonRead.Field(s, "meter", w), "slot meter"),
                MusicPhrase = (int)JsonRead.Integer(JsonRead.Field(s, "music_phrase", w), "slot music_phrase"),
                SectionLabel = JsonRead.Text(JsonRead.Field(s, "section_label", w), "slot section_label"),
                PositionInSection = (int)JsonRead.Integer(JsonRead.Field(s, "position_in_section", w), "slot position_in_section"),
                PositionInPhrase = (int)JsonRead.Integer(JsonRead.Field(s, "position_in_phrase", w), "slot position_in_phrase"),
                TempoBpm = JsonRead.Number(JsonRead.Field(s, "tempo_bpm", w), "slot tempo_bpm"),
                Energy = JsonRead.Number(JsonRead.Field(s, "energy", w), "slot energy"),
                OnsetDensityPerS = JsonRead.Number(JsonRead.Field(s, "onset_density_per_s", w), "slot onset_density_per_s"),
                PhraseId = JsonRead.Text(JsonRead.Field(s, "phrase_id", w), "slot phrase_id"),
                Score = JsonRead.Number(JsonRead.Field(s, "score", w), "slot score"),
            };
            object alternatives;
            if (s.TryGetValue("alternatives", out alternatives) && alternatives != null)
            {
                foreach (object a in JsonRead.Array(alternatives, "slot alternatives"))
                {
                    var ad = JsonRead.Object(a, "alternative");
                    slot.Alternatives.Add(new PhraseAlternative
                    {
                        PhraseId = JsonRead.Text(JsonRead.Field(ad, "phrase_id", "alternative"), "alternative phrase_id"),
                        Score = JsonRead.Number(JsonRead.Field(ad, "score", "alternative"), "alternative score"),
                    });
                }
            }
            object prior;
            if (s.TryGetValue("transition_prior", out prior) && prior != null)
                slot.TransitionPrior = JsonRead.Number(prior, "slot transition_prior");
            return slot;
        }

        /// <summary>The document as JSON, with any local phrase changes written into it.</summary>
        public string ToJson()
        {
            var slots = JsonRead.Array(Raw["slots"], "timeline slots");
            for (int i = 0; i < Slots.Count && i < slots.Count; i++)
            {
                var raw = (Dictionary<string, object>)slots[i];
                if ((string)raw["phrase_id"] != Slots[i].PhraseId)
                {
                    raw["phrase_id"] = Slots[i].PhraseId;
                    raw["transition_prior"] = null;
                }
            }
            return MiniJson.Serialize(Raw);
        }

        /// <summary>Index of the slot playing at <paramref name="timeS"/>: the last slot that has
        /// started (-1 before the first; the last slot holds after the end).</summary>
        public int SlotAt(double timeS)
        {
            int lo = 0, hi = Slots.Count - 1, found = -1;
            while (lo <= hi)
            {
                int mid = (lo + hi) / 2;
                if (Slots[mid].StartS <= timeS) { found = mid; lo = mid + 1; }
                else hi = mid - 1;
            }
            return found;
        }

        /// <summary>The count (beat) position inside the slot at <paramref name="timeS"/>:
        /// 0 on its first beat, 1 on the second..., fractional between beats, up to NumCounts at
        /// the slot's end. NaN outside every slot.</summary>
        public double CountAt(double timeS)
        {
            int i = SlotAt(timeS);
            if (i < 0) return double.NaN;
            var s = Slots[i];
            if (timeS >= s.EndS) return double.NaN;
            var knots = new double[s.BeatTimesS.Length + 1];
            Array.Copy(s.BeatTimesS, knots, s.BeatTimesS.Length);
            knots[knots.Length - 1] = s.EndS;
            var counts = new double[knots.Length];
            for (int k = 0; k < counts.Length; k++) counts[k] = k;
            return TimeWarp.SourceTime(timeS, knots, counts);
        }
    }
}
