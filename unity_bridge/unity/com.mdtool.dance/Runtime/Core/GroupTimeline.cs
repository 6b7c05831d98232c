// Group choreography (schema mdtool.group_timeline version 1, docs/group.md): the shared slots
// (the lead line, as in mdtool.timeline), the dancers with their phrase and canon offset per
// slot, and the sections with their group device and formation spots. GroupBake is what the
// service's /v1/group/bake returns (the distinct dances as pose tracks, each dancer's track
// and spot path); GroupSampler plays every dancer from it, the same arithmetic as the Python
// runtime's GroupSampler.
using System;
using System.Collections.Generic;

namespace MdTool.Dance
{
    public sealed class GroupDancer
    {
        public string Name;
        public bool Lead;
        public string Side;
        public int CanonRank;
        public string[] PhraseIds;
        public int[] OffsetsCounts;
    }

    public sealed class GroupSection
    {
        public string Label;
        public string Role;
        public int FirstSlot;
        public int StopSlot;
        public string Device;
        public string Formation;
        public double[] SpotsM;  // [N * 2]: x, z of each dancer's spot
        public int TravelCounts;
        public Dictionary<string, double> DeviceScores = new Dictionary<string, double>();
    }

    public sealed class GroupTimeline
    {
        public const string Schema = "mdtool.group_timeline";
        public const int Version = 1;

        public DanceTimeline Base;
        public List<GroupDancer> Dancers = new List<GroupDancer>();
        public List<GroupSection> Sections = new List<GroupSection>();
        public double AudienceYawDeg;
        public double MinDistanceM;
        public Dictionary<string, object> Raw;

        public int NumDancers { get { return Dancers.Count; } }

        public static GroupTimeline Parse(string json) { return FromObject(MiniJson.Parse(json)); }

        public static GroupTimeline FromObject(object parsed)
        {
            var d = JsonRead.Object(parsed, "group timeline");
            object schema;
            if (!d.TryGetValue("schema", out schema) || !(schema is string) || (string)schema != Schema)
                throw new DanceFormatException("not an mdtool group timeline (schema field)");
            long version = JsonRead.Integer(JsonRead.Field(d, "version", "group timeline"), "group timeline version");
            if (version != Version)
                throw new DanceFormatException("group timeline version " + version + " is not supported (this reads version " + Version + ")");
            var single = new Dictionary<string, object>(d);
            single["schema"] = DanceTimeline.Schema;
            single["version"] = (long)DanceTimeline.Version;
            var g = new GroupTimeline { Raw = d, Base = DanceTimeline.FromObject(single) };
            object yaw, distance;
            g.AudienceYawDeg = d.TryGetValue("audience_yaw_deg", out yaw) ? JsonRead.Number(yaw, "audience_yaw_deg") : 0.0;
            g.MinDistanceM = d.TryGetValue("min_distance_m", out distance) ? JsonRead.Number(distance, "min_distance_m") : 0.6;
            int slots = g.Base.Slots.Count;
            foreach (object item in JsonRead.Array(JsonRead.Field(d, "dancers", "group timeline"), "dancers"))
            {
                var r = JsonRead.Object(item, "dancer");
                var phrases = JsonRead.Array(JsonRead.Field(r, "phrase_ids", "dancer"), "phrase_ids");
                var offsets = JsonRead.Array(JsonRead.Field(r, "offsets_counts", "dancer"), "offsets_counts");
                if (phrases.Count != slots || offsets.Count != slots)
                    throw new DanceFormatException("a dancer needs one phrase and one offset per slot");
                var dancer = new GroupDancer
                {
                    Name = JsonRead.Text(JsonRead.Field(r, "name", "dancer"), "name"),
                    Lead = JsonRead.Field(r, "lead", "dancer") is bool && (bool)r["lead"],
                    Side = JsonRead.Text(JsonRead.Field(r, "side", "dancer"), "side"),
                    CanonRank = (int)JsonRead.Integer(JsonRead.Field(r, "canon_rank", "dancer"), "canon_rank"),
                    PhraseIds = new string[slots],
                    OffsetsCounts = new int[slots],
                };
                for (int t = 0; t < slots; t++)
                {
                    dancer.PhraseIds[t] = JsonRead.Text(phrases[t], "phrase_id");
                    dancer.OffsetsCounts[t] = (int)JsonRead.Integer(offsets[t], "offset");
                }
                g.Dancers.Add(dancer);
            }
            int expected = 0;
            foreach (object item in JsonRead.Array(JsonRead.Field(d, "sections", "group timeline"), "sections"))
            {
                var r = JsonRead.Object(item, "section");
                var spots = JsonRead.Array(JsonRead.Field(r, "spots_m", "section"), "spots_m");
                if (spots.Count != g.Dancers.Count)
                    throw new DanceFormatException("a section needs one spot per dancer");
                var section = new GroupSection
                {
                    Label = JsonRead.Text(JsonRead.Field(r, "label", "section"), "label"),
                    Role = JsonRead.Text(JsonRead.Field(r, "role", "section"), "role"),
                    FirstSlot = (int)JsonRead.Integer(JsonRead.Field(r, "first_slot", "section"), "first_slot"),
                    StopSlot = (int)JsonRead.Integer(JsonRead.Field(r, "stop_slot", "section"), "stop_slot"),
                    Device = JsonRead.Text(JsonRead.Field(r, "device", "section"), "device"),
                    Formation = JsonRead.Text(JsonRead.Field(r, "formation", "section"), "formation"),
                    TravelCounts = (int)JsonRead.Integer(JsonRead.Field(r, "travel_counts", "section"), "travel_counts"),
                    SpotsM = new double[2 * spots.Count],
                };
                if (section.FirstSlot != expected || section.StopSlot <= section.FirstSlot)
                    throw new DanceFormatException("sections must cover the slots in order");
                expected = section.StopSlot;
                for (int k = 0; k < spots.Count; k++)
                {
                    var xz = JsonRead.Array(spots[k], "spot");
                    if (xz.Count != 2) throw new DanceFormatException("a spot is [x, z]");
                    section.SpotsM[2 * k] = JsonRead.Number(xz[0], "spot x");
                    section.SpotsM[2 * k + 1] = JsonRead.Number(xz[1], "spot z");
                }
                object scores;
                if (r.TryGetValue("device_scores", out scores) && scores is Dictionary<string, object>)
                    foreach (var pair in (Dictionary<string, object>)scores)
                        section.DeviceScores[pair.Key] = JsonRead.Number(pair.Value, "device score");
                g.Sections.Add(section);
            }
            if (expected != slots) throw new DanceFormatException("the sections do not cover every slot");
            return g;
        }

        /// <summary>The section playing at song time <paramref name="timeS"/>.</summary>
        public GroupSection SectionAt(double timeS)
        {
            GroupSection found = Sections[0];
            foreach (var section in Sections)
                if (Base.Slots[section.FirstSlot].StartS <= timeS) found = section;
            return found;
        }

        public string ToJson() { return MiniJson.Serialize(Raw); }
    }

    /// <summary>The service's /v1/group/bake answer.</summary>
    public sealed class GroupBake
    {
        public double Fps;
        public int Frames;
        public PoseTrack[] Tracks;
        public string[] Names;
        public int[] TrackOf;
        public float[][] SpotsM;  // per dancer [Frames * 2]: x, z

        public int NumDancers { get { return TrackOf.Length; } }

        public static GroupBake Parse(string json)
        {
            var d = JsonRead.Object(MiniJson.Parse(json), "group bake");
            var bake = new GroupBake
            {
                Fps = JsonRead.Number(JsonRead.Field(d, "fps", "group bake"), "fps"),
                Frames = (int)JsonRead.Integer(JsonRead.Field(d, "frames", "group bake"), "frames"),
            };
            var tracks = JsonRead.Array(JsonRead.Field(d, "tracks", "group bake"), "tracks");
            bake.Tracks = new PoseTrack[tracks.Count];
            for (int k = 0; k < tracks.Count; k++)
                bake.Tracks[k] = PoseTrack.Read(Convert.FromBase64String(JsonRead.Text(tracks[k], "track")));
            var dancers = JsonRead.Array(JsonRead.Field(d, "dancers", "group bake"), "dancers");
            bake.Names = new string[dancers.Count];
            bake.TrackOf = new int[dancers.Count];
            bake.SpotsM = new float[dancers.Count][];
            for (int k = 0; k < dancers.Count; k++)
            {
                var r = JsonRead.Object(dancers[k], "dancer");
                bake.Names[k] = JsonRead.Text(JsonRead.Field(r, "name", "dancer"), "name");
                bake.TrackOf[k] = (int)JsonRead.Integer(JsonRead.Field(r, "track", "dancer"), "track");
                if (bake.TrackOf[k] < 0 || bake.TrackOf[k] >= tracks.Count)
                    throw new DanceFormatException("a dancer's track index is out of range");
                byte[] raw = Convert.FromBase64String(JsonRead.Text(JsonRead.Field(r, "spots_m", "dancer"), "spots_m"));
                if (raw.Length != bake.Frames * 2 * 4)
                    throw new DanceFormatException("a dancer's spot path needs frames x 2 floats");
                var spots = new float[bake.Frames * 2];
                if (!BitConverter.IsLittleEndian) throw new DanceFormatException("big-endian hosts are not supported");
                Buffer.BlockCopy(raw, 0, spots, 0, raw.Length);
                bake.SpotsM[k] = spots;
            }
            return bake;
        }
    }

    /// <summary>Every dancer of a group: its dance's pose (dancers who dance alike share one
    /// sampler) moved onto its spot path.</summary>
    public sealed class GroupSampler
    {
        public readonly GroupBake Bake;
        readonly PoseSampler[] samplers;

        public GroupSampler(GroupBake bake)
        {
            Bake = bake;
            samplers = new PoseSampler[bake.Tracks.Length];
            for (int k = 0; k < samplers.Length; k++) samplers[k] = new PoseSampler(bake.Tracks[k]);
        }

        public int NumDancers { get { return Bake.NumDancers; } }
        public Pose NewPose() { return samplers[0].NewPose(); }

        /// <summary>Dancer <paramref name="dancer"/>'s pose at song time <paramref name="timeS"/>.</summary>
        public void Sample(int dancer, double timeS, Pose into)
        {
            samplers[Bake.TrackOf[dancer]].Sample(timeS, into);
            float[] spots = Bake.SpotsM[dancer];
            int frames = Bake.Frames;
            double position = timeS * Bake.Fps;
            if (position < 0) position = 0;
            if (position > frames - 1) position = frames - 1;
            int low = Math.Min((int)Math.Floor(position), Math.Max(frames - 2, 0));
            int high = Math.Min(low + 1, frames - 1);
            float alpha = (float)(position - low);
            into.Root[0] += spots[2 * low] * (1f - alpha) + spots[2 * high] * alpha;
            into.Root[2] += spots[2 * low + 1] * (1f - alpha) + spots[2 * high + 1] * alpha;
        }
    }
}
