// A baked dance (MDPT version 1, written by the Python runtime: mdruntime.pose.PoseTrack):
// frames at the timeline's fps of the root position [T, 3] and local joint rotations [T, J, 4]
// (x, y, z, w; canonical skeleton; consecutive frames in one hemisphere), plus per slot the
// time-warp knots that map song time to phrase time.
//
// Layout: "MDPT", uint32 version, uint32 header length H, H bytes of JSON (space padded),
// then little-endian float32 roots and rotations.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace MdTool.Dance
{
    public sealed class SlotKnots
    {
        public int Index;
        public string PhraseId;
        public double StartS;
        public double EndS;
        public int FirstFrame;
        public int StopFrame;
        /// <summary>Song times of the slot's beats and its end.</summary>
        public double[] TargetsS;
        /// <summary>Phrase times (seconds into the phrase) shown at those song times.</summary>
        public double[] SourceS;

        /// <summary>Seconds into the phrase at song time <paramref name="t"/>.</summary>
        public double PhraseTime(double t) { return TimeWarp.SourceTime(t, TargetsS, SourceS); }
    }

    public sealed class PoseTrack
    {
        public const int FormatVersion = 1;
        const int MaxFrames = 4 * 3600 * 240;
        const int MaxJoints = 512;

        public string[] JointNames;
        public int[] Parents;
        /// <summary>Rest offsets from the parent, metres, [J * 3].</summary>
        public double[] Offsets;
        public double Fps;
        public int NumFrames;
        public int NumJoints;
        public float[] Roots;      // [T * 3]
        public float[] Rotations;  // [T * J * 4]
        public string TimelineKey = "";
        public List<SlotKnots> Slots = new List<SlotKnots>();

        public double DurationS { get { return Math.Max(NumFrames - 1, 0) / Fps; } }

        public int JointIndex(string name) { return Array.IndexOf(JointNames, name); }

        public static PoseTrack Read(byte[] data)
        {
            if (data == null || data.Length < 12 || data[0] != 'M' || data[1] != 'D' || data[2] != 'P' || data[3] != 'T')
                throw new DanceFormatException("not an mdtool pose track (MDPT magic missing)");
            uint version = BitConverter.ToUInt32(LittleEndian(data, 4), 0);
            if (version != FormatVersion)
                throw new DanceFormatException("pose track version " + version + " is not supported (this reads " + FormatVersion + ")");
            uint size = BitConverter.ToUInt32(LittleEndian(data, 8), 0);
            if (size > data.Length - 12) throw new DanceFormatException("pose track header is truncated");
            var header = JsonRead.Object(MiniJson.Parse(Encoding.UTF8.GetString(data, 12, (int)size)), "pose track header");
            var track = new PoseTrack();
            track.NumFrames = (int)JsonRead.Integer(JsonRead.Field(header, "num_frames", "header"), "num_frames");
            track.NumJoints = (int)JsonRead.Integer(JsonRead.Field(header, "num_joints", "header"), "num_joints");
            track.Fps = JsonRead.Number(JsonRead.Field(header, "fps", "header"), "fps");
            if (track.NumFrames < 1 || track.NumFrames > MaxFrames || track.NumJoints < 1 || track.NumJoints > MaxJoints || !(track.Fps > 0))
                throw new DanceFormatException("pose track has implausible sizes");
            var names = JsonRead.Array(JsonRead.Field(header, "joints", "header"), "joints");
            var parents = JsonRead.Array(JsonRead.Field(header, "parents", "header"), "parents");
            var offsets = JsonRead.Array(JsonRead.Field(header, "offsets_m", "header"), "offsets_m");
            if (names.Count != track.NumJoints || parents.Count != track.NumJoints || offsets.Count != track.NumJoints)
                throw new DanceFormatException("pose track header lists the wrong number of joints");
            track.JointNames = new string[track.NumJoints];
            track.Parents = new int[track.NumJoints];
            track.Offsets = new double[track.NumJoints * 3];
            for (int j = 0; j < track.NumJoints; j++)
            {
                track.JointNames[j] = JsonRead.Text(names[j], "joint name");
                track.Parents[j] = (int)JsonRead.Integer(parents[j], "parent");
                if (track.Parents[j] >= j) throw new DanceFormatException("pose track joints must list parents first");
                var o = JsonRead.Numbers(offsets[j], "offset");
                if (o.Length != 3) throw new DanceFormatException("offsets must be 3-vectors");
                Array.Copy(o, 0, track.Offsets, j * 3, 3);
            }
            object key;
            if (header.TryGetValue("timeline", out key) && key is string) track.TimelineKey = (string)key;
            object slots;
            if (header.TryGetValue("slots", out slots) && slots != null)
            {
                foreach (object item in JsonRead.Array(slots, "slots"))
                {
                    var s = JsonRead.Object(item, "slot knots");
                    var knots = new SlotKnots
                    {
                        Index = (int)JsonRead.Integer(JsonRead.Field(s, "index", "slot knots"), "index"),
                        PhraseId = JsonRead.Text(JsonRead.Field(s, "phrase_id", "slot knots"), "phrase_id"),
                        StartS = JsonRead.Number(JsonRead.Field(s, "start_s", "slot knots"), "start_s"),
                        EndS = JsonRead.Number(JsonRead.Field(s, "end_s", "slot knots"), "end_s"),
                        FirstFrame = (int)JsonRead.Integer(JsonRead.Field(s, "first_frame", "slot knots"), "first_frame"),
                        StopFrame = (int)JsonRead.Integer(JsonRead.Field(s, "stop_frame", "slot knots"), "stop_frame"),
                        TargetsS = JsonRead.Numbers(JsonRead.Field(s, "targets_s", "slot knots"), "targets_s"),
                        SourceS = JsonRead.Numbers(JsonRead.Field(s, "source_s", "slot knots"), "source_s"),
                    };
                    if (knots.TargetsS.Length < 2 || knots.TargetsS.Length != knots.SourceS.Length)
                        throw new DanceFormatException("slot knots need two or more matched times");
                    track.Slots.Add(knots);
                }
            }
            long floats = (long)track.NumFrames * 3 + (long)track.NumFrames * track.NumJoints * 4;
            long body = data.Length - 12 - size;
            if (body != floats * 4)
                throw new DanceFormatException("pose track body has " + body / 4 + " floats, expected " + floats);
            int start = 12 + (int)size;
            track.Roots = ReadFloats(data, start, track.NumFrames * 3);
            track.Rotations = ReadFloats(data, start + track.NumFrames * 3 * 4, track.NumFrames * track.NumJoints * 4);
            return track;
        }

        public static PoseTrack Read(Stream stream)
        {
            using (var memory = new MemoryStream())
            {
                stream.CopyTo(memory);
                return Read(memory.ToArray());
            }
        }

        static byte[] LittleEndian(byte[] data, int offset)
        {
            var b = new byte[4];
            Array.Copy(data, offset, b, 0, 4);
            if (!BitConverter.IsLittleEndian) Array.Reverse(b);
            return b;
        }

        static float[] ReadFloats(byte[] data, int offset, int count)
        {
            var result = new float[count];
            if (BitConverter.IsLittleEndian)
            {
                Buffer.BlockCopy(data, offset, result, 0, count * 4);
                return result;
            }
            for (int i = 0; i < count; i++) result[i] = BitConverter.ToSingle(LittleEndian(data, offset + 4 * i), 0);
            return result;
        }

        /// <summary>The slot knots in effect at song time <paramref name="t"/>, or null.</summary>
        public SlotKnots SlotAt(double t)
        {
            SlotKnots found = null;
            foreach (var s in Slots)
            {
                if (s.StartS <= t) found = s; else break;
            }
            return found;
        }
    }
}
