// Tests of the engine-independent core against golden vectors written by the Python runtime
// (python -m mdruntime.golden OUT). Plain C#, no test framework, so it runs under Debian's mono:
//
//   mcs -out:CoreTests.exe Runtime/Core/*.cs Tests~/Core/CoreTests.cs
//   mono CoreTests.exe GOLDEN_FOLDER [OUT_FOLDER]      # prints "N passed, M failed"
//   mono CoreTests.exe --bench GOLDEN_FOLDER [CHARACTERS] [SECONDS]
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;

namespace MdTool.Dance.Tests
{
    public static class CoreTests
    {
        const double Tolerance = 1e-4;
        static int passed, failed;

        public static int Main(string[] args)
        {
            if (args.Length >= 2 && args[0] == "--bench")
                return Bench(args[1], args.Length > 2 ? int.Parse(args[2]) : 1000, args.Length > 3 ? double.Parse(args[3]) : 2.0);
            if (args.Length < 1)
            {
                Console.Error.WriteLine("usage: CoreTests.exe GOLDEN_FOLDER [OUT_FOLDER] | --bench GOLDEN_FOLDER [CHARACTERS] [SECONDS]");
                return 2;
            }
            string golden = args[0];
            string output = args.Length > 1 ? args[1] : null;
            Run("timeline parses and round-trips", () => TimelineRoundTrip(golden, output));
            Run("malformed timelines are refused", MalformedTimelines);
            Run("pose track reads", () => TrackReads(golden));
            Run("damaged pose tracks are refused", () => DamagedTracks(golden));
            Run("sampler matches the renderer within 1e-4", () => SamplerMatchesRenderer(golden));
            Run("crowd sampler matches single samplers", () => CrowdMatches(golden));
            Run("time warp matches warp_source_times", () => WarpMatches(golden));
            Run("count positions match", () => CountsMatch(golden));
            Run("decay spring matches decay_spring", () => SpringMatches(golden));
            Run("inertializer matches inertialize", () => InertializerMatches(golden));
            Run("forward kinematics matches", () => ForwardKinematicsMatches(golden));
            Run("handedness conversion mirrors X", HandednessMirrors);
            Run("json reader handles escapes and rejects junk", JsonEdges);
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed == 0 ? 0 : 1;
        }

        static void Run(string name, Action test)
        {
            try
            {
                test();
                passed++;
                Console.WriteLine("PASS " + name);
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine("FAIL " + name + ": " + e.GetType().Name + ": " + e.Message);
            }
        }

        static void Check(bool condition, string message)
        {
            if (!condition) throw new Exception(message);
        }

        static Dictionary<string, object> Load(string folder, string name)
        {
            return JsonRead.Object(MiniJson.Parse(File.ReadAllText(Path.Combine(folder, name))), name);
        }

        static double[][] Rows(object value)
        {
            var list = JsonRead.Array(value, "rows");
            var rows = new double[list.Count][];
            for (int i = 0; i < list.Count; i++) rows[i] = JsonRead.Numbers(list[i], "row");
            return rows;
        }

        static double[][][] Blocks(object value)
        {
            var list = JsonRead.Array(value, "blocks");
            var blocks = new double[list.Count][][];
            for (int i = 0; i < list.Count; i++) blocks[i] = Rows(list[i]);
            return blocks;
        }

        /// <summary>Largest component gap between two quaternions, sign-invariant.</summary>
        static double QuatGap(double[] expected, float[] got, int offset)
        {
            double plus = 0, minus = 0;
            for (int c = 0; c < 4; c++)
            {
                plus = Math.Max(plus, Math.Abs(expected[c] - got[offset + c]));
                minus = Math.Max(minus, Math.Abs(expected[c] + got[offset + c]));
            }
            return Math.Min(plus, minus);
        }

        static PoseTrack Track(string golden) { return PoseTrack.Read(File.ReadAllBytes(Path.Combine(golden, "track.mdpt"))); }

        // ---------------------------------------------------------------------------------

        static void TimelineRoundTrip(string golden, string output)
        {
            string text = File.ReadAllText(Path.Combine(golden, "timeline.json"));
            var timeline = DanceTimeline.Parse(text);
            var track = Track(golden);
            Check(timeline.Slots.Count == track.Slots.Count, "slot counts differ");
            Check(timeline.Fps == track.Fps, "fps differs");
            for (int i = 0; i < timeline.Slots.Count; i++)
            {
                Check(timeline.Slots[i].PhraseId == track.Slots[i].PhraseId, "phrase of slot " + i);
                Check(timeline.SlotAt(timeline.Slots[i].StartS + 1e-6) == i, "SlotAt of slot " + i);
            }
            Check(timeline.SlotAt(timeline.Slots[0].StartS - 0.5) == -1, "SlotAt before the first slot");
            Check(timeline.Slots[0].Alternatives.Count > 0, "alternatives parsed");
            Check(timeline.Slots[0].TransitionPrior == null, "first slot has no prior");
            string again = timeline.ToJson();
            Check(DanceTimeline.Parse(again).Slots.Count == timeline.Slots.Count, "re-parse");
            if (output != null)
            {
                Directory.CreateDirectory(output);
                File.WriteAllText(Path.Combine(output, "roundtrip.timeline.json"), again);
                timeline.Slots[1].PhraseId = "edited-phrase";
                File.WriteAllText(Path.Combine(output, "edited.timeline.json"), timeline.ToJson());
            }
        }

        static void MalformedTimelines()
        {
            string[] bad =
            {
                "", "{", "[1, 2]", "{\"schema\": \"other\"}",
                "{\"schema\": \"mdtool.timeline\", \"version\": 2}",
                "{\"schema\": \"mdtool.timeline\", \"version\": 1, \"song\": {}}",
                "{\"schema\": \"mdtool.timeline\", \"version\": 1} trailing",
            };
            foreach (string text in bad)
            {
                bool refused = false;
                try { DanceTimeline.Parse(text); }
                catch (DanceFormatException) { refused = true; }
                Check(refused, "accepted: " + text);
            }
        }

        static void TrackReads(string golden)
        {
            var track = Track(golden);
            Check(track.NumJoints == 22 && track.JointNames[0] == "Hips", "canonical skeleton");
            Check(track.Parents[0] == -1, "root parent");
            Check(track.Roots.Length == track.NumFrames * 3, "roots");
            Check(track.TimelineKey.Length == 64, "timeline key");
            Check(track.JointIndex("LeftFoot") > 0, "joint lookup");
        }

        static void DamagedTracks(string golden)
        {
            byte[] data = File.ReadAllBytes(Path.Combine(golden, "track.mdpt"));
            var cases = new List<byte[]>();
            cases.Add(new byte[] { 1, 2, 3 });
            var version = (byte[])data.Clone();
            version[4] = 9;
            cases.Add(version);
            var truncated = new byte[data.Length - 4];
            Array.Copy(data, truncated, truncated.Length);
            cases.Add(truncated);
            foreach (var bytes in cases)
            {
                bool refused = false;
                try { PoseTrack.Read(bytes); }
                catch (DanceFormatException) { refused = true; }
                Check(refused, "accepted a damaged track of " + bytes.Length + " bytes");
            }
        }

        static void SamplerMatchesRenderer(string golden)
        {
            var samples = Load(golden, "samples.json");
            double[] times = JsonRead.Numbers(samples["times_s"], "times");
            double[][] roots = Rows(samples["root_positions_m"]);
            double[][][] rotations = Blocks(samples["rotations"]);
            var sampler = new PoseSampler(Track(golden));
            var pose = sampler.NewPose();
            double worst = 0;
            for (int i = 0; i < times.Length; i++)
            {
                sampler.Sample(times[i], pose);
                for (int j = 0; j < pose.NumJoints; j++) worst = Math.Max(worst, QuatGap(rotations[i][j], pose.Rotations, j * 4));
                for (int c = 0; c < 3; c++) worst = Math.Max(worst, Math.Abs(roots[i][c] - pose.Root[c]));
            }
            Console.WriteLine("     " + times.Length + " poses, largest gap " + worst.ToString("E2"));
            Check(worst <= Tolerance, "largest gap " + worst + " > 1e-4");
        }

        static void CrowdMatches(string golden)
        {
            var track = Track(golden);
            var crowd = new CrowdSampler(new[] { track, track });
            var single = new PoseSampler(track);
            int n = 5;
            var which = new[] { 0, 1, 0, 1, 1 };
            var when = new[] { 0.0, 1.5, 3.25, 9.9, 100.0 };
            var rotations = new float[n * track.NumJoints * 4];
            var roots = new float[n * 3];
            crowd.Sample(which, when, rotations, roots);
            var pose = single.NewPose();
            for (int c = 0; c < n; c++)
            {
                single.Sample(when[c], pose);
                for (int k = 0; k < pose.Rotations.Length; k++)
                    Check(pose.Rotations[k] == rotations[c * track.NumJoints * 4 + k], "crowd rotation");
                for (int k = 0; k < 3; k++) Check(pose.Root[k] == roots[c * 3 + k], "crowd root");
            }
        }

        static void WarpMatches(string golden)
        {
            var warps = JsonRead.Array(Load(golden, "warp.json")["warps"], "warps");
            int count = 0;
            foreach (object item in warps)
            {
                var w = JsonRead.Object(item, "warp");
                double[] targets = JsonRead.Numbers(w["targets_s"], "targets");
                double[] sources = JsonRead.Numbers(w["source_s"], "sources");
                double[] times = JsonRead.Numbers(w["times_s"], "times");
                double[] expected = JsonRead.Numbers(w["expected"], "expected");
                for (int i = 0; i < times.Length; i++, count++)
                {
                    double got = TimeWarp.SourceTime(times[i], targets, sources);
                    Check(Math.Abs(got - expected[i]) <= 1e-9, "warp at " + times[i] + ": " + got + " != " + expected[i]);
                }
            }
            Check(count > 0, "no warp cases");
        }

        static void CountsMatch(string golden)
        {
            var timeline = DanceTimeline.Parse(File.ReadAllText(Path.Combine(golden, "timeline.json")));
            var track = Track(golden);
            foreach (object item in JsonRead.Array(Load(golden, "warp.json")["counts"], "counts"))
            {
                var c = JsonRead.Object(item, "count");
                double t = JsonRead.Number(c["time_s"], "time"), expected = JsonRead.Number(c["count"], "count");
                double got = timeline.CountAt(t);
                Check(Math.Abs(got - expected) <= 1e-9, "count at " + t + ": " + got + " != " + expected);
                var knots = track.SlotAt(t);
                Check(knots != null && knots.Index == timeline.SlotAt(t), "slot knots at " + t);
            }
        }

        static void SpringMatches(string golden)
        {
            var s = Load(golden, "spring.json");
            double halflife = JsonRead.Number(s["halflife_s"], "halflife");
            double[] offsets = JsonRead.Numbers(s["offsets"], "offsets");
            double[] velocities = JsonRead.Numbers(s["velocities"], "velocities");
            double[] times = JsonRead.Numbers(s["times_s"], "times");
            double[][] expected = Rows(s["expected"]);
            for (int i = 0; i < times.Length; i++)
                for (int k = 0; k < offsets.Length; k++)
                {
                    double got = Spring.Decay(offsets[k], velocities[k], halflife, times[i]);
                    Check(Math.Abs(got - expected[i][k]) <= 1e-9, "spring " + i + "," + k);
                }
        }

        static Pose PoseOf(double[][] rotations, double[] root)
        {
            var pose = new Pose(rotations.Length);
            for (int j = 0; j < rotations.Length; j++)
                for (int c = 0; c < 4; c++) pose.Rotations[j * 4 + c] = (float)rotations[j][c];
            for (int c = 0; c < 3; c++) pose.Root[c] = (float)root[c];
            return pose;
        }

        static void InertializerMatches(string golden)
        {
            var g = Load(golden, "inertialize.json");
            double fps = JsonRead.Number(g["fps"], "fps"), halflife = JsonRead.Number(g["halflife_s"], "halflife");
            double[][][] prevRot = Blocks(g["previous_rotations"]);
            double[][] prevRoot = Rows(g["previous_roots"]);
            double[][][] nextRot = Blocks(g["following_rotations"]);
            double[][] nextRoot = Rows(g["following_roots"]);
            double[][][] expectedRot = Blocks(g["expected_rotations"]);
            double[][] expectedRoot = Rows(g["expected_roots"]);
            var blend = new Inertializer(nextRot[0].Length);
            blend.Begin(PoseOf(prevRot[0], prevRoot[0]), PoseOf(prevRot[1], prevRoot[1]),
                        PoseOf(nextRot[0], nextRoot[0]), PoseOf(nextRot[1], nextRoot[1]), 1.0 / fps, 10.0, halflife);
            double worst = 0;
            for (int i = 0; i < nextRot.Length; i++)
            {
                var pose = PoseOf(nextRot[i], nextRoot[i]);
                blend.Apply(10.0 + i / fps, pose);
                for (int j = 0; j < pose.NumJoints; j++) worst = Math.Max(worst, QuatGap(expectedRot[i][j], pose.Rotations, j * 4));
                for (int c = 0; c < 3; c++) worst = Math.Max(worst, Math.Abs(expectedRoot[i][c] - pose.Root[c]));
            }
            Console.WriteLine("     " + nextRot.Length + " blended frames, largest gap " + worst.ToString("E2"));
            Check(worst <= Tolerance, "largest gap " + worst + " > 1e-4");
        }

        static void ForwardKinematicsMatches(string golden)
        {
            var g = Load(golden, "fk.json");
            double[] times = JsonRead.Numbers(g["times_s"], "times");
            double[][][] positions = Blocks(g["positions"]);
            double[][][] rotations = Blocks(g["rotations"]);
            var track = Track(golden);
            var sampler = new PoseSampler(track);
            var pose = sampler.NewPose();
            var globalRot = new QuatD[track.NumJoints];
            var globalPos = new Vec3D[track.NumJoints];
            for (int i = 0; i < times.Length; i++)
            {
                sampler.Sample(times[i], pose);
                ForwardKinematics.Compute(track, pose, globalRot, globalPos);
                for (int j = 0; j < track.NumJoints; j++)
                {
                    var p = positions[i][j];
                    Check(Math.Abs(globalPos[j].X - p[0]) + Math.Abs(globalPos[j].Y - p[1]) + Math.Abs(globalPos[j].Z - p[2]) <= 3e-4,
                          "position of joint " + j + " at frame " + i);
                    var q = new float[4];
                    globalRot[j].ToArray(q, 0);
                    Check(QuatGap(rotations[i][j], q, 0) <= Tolerance, "rotation of joint " + j);
                }
            }
        }

        static void HandednessMirrors()
        {
            var q = QuatD.FromRotVec(new Vec3D(0.3, -1.1, 0.7));
            var v = new Vec3D(0.2, 0.5, -0.9);
            var rotatedThenMirrored = Handedness.PositionToUnity(q.Rotate(v));
            var mirroredThenRotated = Handedness.RotationToUnity(q).Rotate(Handedness.PositionToUnity(v));
            Check((rotatedThenMirrored - mirroredThenRotated).Length < 1e-12, "mirror does not commute");
            var back = QuatD.FromRotVec(q.ToRotVec());
            Check(Math.Abs(back.X - q.X) + Math.Abs(back.Y - q.Y) + Math.Abs(back.Z - q.Z) + Math.Abs(back.W - q.W) < 1e-12, "rotvec round trip");
        }

        static void JsonEdges()
        {
            var d = JsonRead.Object(MiniJson.Parse("{\"a\": \"x\\\"y\\u00e9\\n\", \"b\": [1, 2.5, -3e2, true, null], \"c\": {}}"), "doc");
            Check((string)d["a"] == "x\"y\u00e9\n", "string escapes");
            var b = JsonRead.Array(d["b"], "b");
            Check((long)b[0] == 1 && (double)b[1] == 2.5 && (double)b[2] == -300.0 && (bool)b[3] && b[4] == null, "values");
            Check(MiniJson.Serialize(MiniJson.Parse("{\"x\": [1, 0.1, \"q\"]}")) == "{\"x\": [1, 0.1, \"q\"]}", "writes back");
            foreach (string junk in new[] { "{\"a\" 1}", "[1,", "nul", "\"open", "{\"a\": NaN}" })
            {
                bool refused = false;
                try { MiniJson.Parse(junk); }
                catch (DanceFormatException) { refused = true; }
                Check(refused, "accepted " + junk);
            }
        }

        // ---------------------------------------------------------------------------------

        static int Bench(string golden, int characters, double seconds)
        {
            var track = Track(golden);
            var crowd = new CrowdSampler(new[] { track });
            var which = new int[characters];
            var offsets = new double[characters];
            var when = new double[characters];
            var random = new Random(0);
            for (int c = 0; c < characters; c++) offsets[c] = random.NextDouble() * track.DurationS;
            var rotations = new float[characters * track.NumJoints * 4];
            var roots = new float[characters * 3];
            crowd.Sample(which, offsets, rotations, roots);  // warm up the JIT
            var clock = Stopwatch.StartNew();
            long frames = 0;
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                for (int c = 0; c < characters; c++) when[c] = offsets[c] + frames / 60.0;
                crowd.Sample(which, when, rotations, roots);
                frames++;
            }
            double elapsed = clock.Elapsed.TotalSeconds;
            double perFrameMs = elapsed / frames * 1e3;
            double posesPerS = characters * frames / elapsed;
            Console.WriteLine("{\"characters\": " + characters + ", \"frames\": " + frames + ", \"ms_per_frame\": " +
                              perFrameMs.ToString("R") + ", \"poses_per_s\": " + posesPerS.ToString("R") + "}");
            return 0;
        }
    }
}
