// A timeline rendered into a PoseTrack in the engine, from the library asset's motions, as
// musicdance.choreo.render.render_dance renders it: each slot's phrase time-warped so its counts
// land on the slot's beats (warp_slot / synthesis.timewarp), played on into the take that
// continues it, cut where the pose and velocity gap is smallest within a beat of the boundary,
// turned and moved on the floor to continue where the dancer stands and faces (align_root),
// joined with inertialization (inertialize) over a half-life scaled with the gap, planted feet
// pinned with leg IK, the first and last poses held (Render; the joins and feet are in
// RenderJoins.cs and FootLock.cs). RenderSimple is the cheap variant: cut on count 1, fixed
// half-life, no continuation takes, no foot locking. Both carry the slots' time-warp knots, so
// DancePlayer and DanceEditor play the result.
using System;
using System.Collections.Generic;

namespace MdTool.Dance.Choreography
{
    /// <summary>Frames of root positions [T * 3] and local rotations [T * J * 4] in double.</summary>
    public sealed class MotionD
    {
        public double Fps;
        public int Frames, Joints;
        public double[] Root, Rot;

        public MotionD(int frames, int joints, double fps)
        {
            Frames = frames; Joints = joints; Fps = fps;
            Root = new double[frames * 3];
            Rot = new double[frames * joints * 4];
        }

        public QuatD Q(int frame, int joint)
        {
            int i = (frame * Joints + joint) * 4;
            return new QuatD(Rot[i], Rot[i + 1], Rot[i + 2], Rot[i + 3]);
        }

        public void SetQ(int frame, int joint, QuatD q)
        {
            int i = (frame * Joints + joint) * 4;
            Rot[i] = q.X; Rot[i + 1] = q.Y; Rot[i + 2] = q.Z; Rot[i + 3] = q.W;
        }

        public Vec3D R(int frame) { return new Vec3D(Root[3 * frame], Root[3 * frame + 1], Root[3 * frame + 2]); }

        public void SetR(int frame, Vec3D v) { Root[3 * frame] = v.X; Root[3 * frame + 1] = v.Y; Root[3 * frame + 2] = v.Z; }
    }

    public static partial class TimelineRenderer
    {
        public const double JoinHalflifeS = 0.18;

        /// <summary>The cheap render: cut on count 1 of every slot, fixed half-life, no
        /// continuation takes, no foot locking (not the poses of mdtool choreograph).</summary>
        public static PoseTrack RenderSimple(DanceTimeline timeline, LibraryAsset library, Action<float> progress = null)
        {
            double fps = timeline.Fps;
            var pieces = new List<MotionD>();
            var firsts = new List<int>();
            var stops = new List<int>();
            var knots = new List<SlotKnots>();
            var phrases = new Dictionary<int, MotionD>();
            for (int i = 0; i < timeline.Slots.Count; i++)
            {
                var slot = timeline.Slots[i];
                int k = library.IndexOf(slot.PhraseId);
                if (k < 0) throw new DanceAssetException("phrase " + slot.PhraseId + " is not in the library asset");
                MotionD phrase;
                if (!phrases.TryGetValue(k, out phrase)) phrases[k] = phrase = Decode(library, k);
                var source = SourceCountFrames(library.CountsOf(k), library.NumFrames[k], library.Fps[k], slot.NumCounts);
                var targets = new double[slot.NumCounts + 1];
                Array.Copy(slot.BeatTimesS, targets, slot.NumCounts);
                targets[slot.NumCounts] = slot.EndS;
                var sourceS = new double[source.Length];
                for (int c = 0; c < source.Length; c++) sourceS[c] = source[c] / library.Fps[k];
                int first = FrameAt(slot.StartS, fps), stop = FrameAt(slot.EndS, fps);
                knots.Add(new SlotKnots
                {
                    Index = slot.Index, PhraseId = slot.PhraseId, StartS = slot.StartS, EndS = slot.EndS,
                    FirstFrame = first, StopFrame = stop, TargetsS = targets, SourceS = sourceS,
                });
                if (stop <= first) continue;
                pieces.Add(Warp(phrase, targets, sourceS, fps, first / fps, stop / fps));
                firsts.Add(first);
                stops.Add(stop);
                if (progress != null) progress(0.8f * (i + 1) / timeline.Slots.Count);
            }
            if (pieces.Count == 0) throw new DanceFormatException("no slot is long enough for a frame at " + fps + " fps");
            var segments = new List<MotionD>();
            MotionD previous = null;
            for (int p = 0; p < pieces.Count; p++)
            {
                int stop = p + 1 < pieces.Count ? firsts[p + 1] - firsts[p] : stops[p] - firsts[p];
                var whole = previous == null ? pieces[p] : AlignRoot(pieces[p], previous.R(previous.Frames - 1), Heading(previous.Q(previous.Frames - 1, 0)), 0);
                var segment = Slice(whole, 0, Math.Min(Math.Max(stop, 0), whole.Frames));
                if (previous != null && segment.Frames > 0) segment = Inertialize(previous, segment, JoinHalflifeS);
                if (segment.Frames > 0) { segments.Add(segment); previous = segment; }
            }
            var body = Concatenate(segments);
            int head = FrameAt(timeline.Slots[0].StartS, fps);
            int total = (int)Math.Floor(timeline.DurationS * fps + 1e-6) + 1;
            var track = ToTrack(body, head, total, library, fps);
            track.Slots = knots;
            if (progress != null) progress(1f);
            return track;
        }

        /// <summary>First output frame at or after timeS (render.frame_at).</summary>
        public static int FrameAt(double timeS, double fps) { return (int)Math.Ceiling(timeS * fps - 1e-6); }

        /// <summary>render.source_count_frames: phrase frames for the slot's beats and its end.</summary>
        public static double[] SourceCountFrames(double[] counts, int numFrames, double phraseFps, int numCounts)
        {
            double spacing;
            if (counts.Length > 1)
            {
                var gaps = new double[counts.Length - 1];
                for (int i = 0; i < gaps.Length; i++) gaps[i] = counts[i + 1] - counts[i];
                Array.Sort(gaps);
                int m = gaps.Length / 2;
                spacing = gaps.Length % 2 == 1 ? gaps[m] : (gaps[m - 1] + gaps[m]) / 2.0;
            }
            else spacing = phraseFps / 2;
            var knots = new List<double>(counts);
            knots.Add(Math.Max(numFrames, counts[counts.Length - 1] + 1.0));
            double last = knots[knots.Count - 1];
            for (int i = 1; knots.Count < numCounts + 1; i++) knots.Add(last + spacing * i);
            return knots.GetRange(0, numCounts + 1).ToArray();
        }

        /// <summary>The phrase's motion as stored (Q15 decoded and normalised, in double).</summary>
        public static MotionD Decode(LibraryAsset library, int k, bool unroll = true)
        {
            int first = library.MotionIndptr[k], frames = library.MotionIndptr[k + 1] - first, joints = library.NumJoints;
            var m = new MotionD(frames, joints, library.Fps[k]);
            for (int i = 0; i < frames * 3; i++) m.Root[i] = library.RootM[first * 3 + i];
            int at = first * joints * 4;
            for (int i = 0; i < frames * joints; i++)
            {
                double x = library.RotationsQ15[at + 4 * i] / 32767.0, y = library.RotationsQ15[at + 4 * i + 1] / 32767.0;
                double z = library.RotationsQ15[at + 4 * i + 2] / 32767.0, w = library.RotationsQ15[at + 4 * i + 3] / 32767.0;
                double n = Math.Max(Math.Sqrt(x * x + y * y + z * z + w * w), 1e-12);
                m.Rot[4 * i] = x / n; m.Rot[4 * i + 1] = y / n; m.Rot[4 * i + 2] = z / n; m.Rot[4 * i + 3] = w / n;
            }
            if (unroll) Unroll(m);
            return m;
        }

        /// <summary>Consecutive frames in one hemisphere per joint (quat_unroll).</summary>
        static void Unroll(MotionD m)
        {
            for (int j = 0; j < m.Joints; j++)
                for (int t = 1; t < m.Frames; t++)
                {
                    int a = ((t - 1) * m.Joints + j) * 4, b = (t * m.Joints + j) * 4;
                    double dot = m.Rot[a] * m.Rot[b] + m.Rot[a + 1] * m.Rot[b + 1] + m.Rot[a + 2] * m.Rot[b + 2] + m.Rot[a + 3] * m.Rot[b + 3];
                    if (dot < 0) for (int c = 0; c < 4; c++) m.Rot[b + c] = -m.Rot[b + c];
                }
        }

        /// <summary>timewarp.time_warp: frames from startS to stopS at fps whose source times
        /// meet the knots (linear between them, the nearest segment's rate outside).</summary>
        public static MotionD Warp(MotionD motion, double[] targetsS, double[] sourceS, double fps, double startS, double stopS)
        {
            int frames = Math.Max((int)Math.Ceiling((stopS - startS) * fps - 1e-9), 1);
            var result = new MotionD(frames, motion.Joints, fps);
            for (int i = 0; i < frames; i++)
            {
                double t = startS + i / fps;
                SampleInto(motion, TimeWarp.SourceTime(t, targetsS, sourceS), result, i);
            }
            return result;
        }

        /// <summary>motion.sample at one time (clamped; slerp, lerp) into frame `at` of `into`.</summary>
        static void SampleInto(MotionD motion, double timeS, MotionD into, int at)
        {
            double pos = Math.Min(Math.Max(timeS * motion.Fps, 0.0), motion.Frames - 1);
            int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, motion.Frames - 1);
            double alpha = pos - lo;
            for (int c = 0; c < 3; c++) into.Root[3 * at + c] = motion.Root[3 * lo + c] * (1 - alpha) + motion.Root[3 * hi + c] * alpha;
            for (int j = 0; j < motion.Joints; j++) into.SetQ(at, j, Slerp(motion.Q(lo, j), motion.Q(hi, j), alpha));
        }

        internal static QuatD Slerp(QuatD a, QuatD b, double t)
        {
            double dot = a.X * b.X + a.Y * b.Y + a.Z * b.Z + a.W * b.W;
            if (dot < 0) { b = new QuatD(-b.X, -b.Y, -b.Z, -b.W); dot = -dot; }
            double theta = Math.Acos(Math.Min(Math.Max(dot, -1.0), 1.0)), s = Math.Sin(theta);
            double wa, wb;
            if (s < 1e-8) { wa = 1.0 - t; wb = t; }
            else { wa = Math.Sin((1.0 - t) * theta) / s; wb = Math.Sin(t * theta) / s; }
            return Normalize(new QuatD(wa * a.X + wb * b.X, wa * a.Y + wb * b.Y, wa * a.Z + wb * b.Z, wa * a.W + wb * b.W));
        }

        internal static QuatD Normalize(QuatD q)
        {
            double n = Math.Max(Math.Sqrt(q.X * q.X + q.Y * q.Y + q.Z * q.Z + q.W * q.W), 1e-12);
            return new QuatD(q.X / n, q.Y / n, q.Z / n, q.W / n);
        }

        /// <summary>blend.heading: yaw (rad) of the +Z axis.</summary>
        public static double Heading(QuatD q)
        {
            var f = q.Rotate(new Vec3D(0, 0, 1));
            return Math.Atan2(f.X, f.Z);
        }

        internal static QuatD Yaw(double angle) { return new QuatD(0, Math.Sin(angle / 2.0), 0, Math.Cos(angle / 2.0)); }

        /// <summary>blend.align_root: turned about +Y and moved on the floor so that the root of
        /// `frame` sits at position's x and z and faces headingRad.</summary>
        public static MotionD AlignRoot(MotionD motion, Vec3D position, double headingRad, int frame)
        {
            var turn = Yaw(headingRad - Heading(motion.Q(frame, 0)));
            var result = new MotionD(motion.Frames, motion.Joints, motion.Fps);
            Array.Copy(motion.Rot, result.Rot, motion.Rot.Length);
            var anchor = motion.R(frame);
            for (int t = 0; t < motion.Frames; t++)
            {
                var r = turn.Rotate(motion.R(t) - anchor);
                result.SetR(t, new Vec3D(r.X + position.X, r.Y + anchor.Y, r.Z + position.Z));
                result.SetQ(t, 0, turn * motion.Q(t, 0));
            }
            return result;
        }

        internal static Vec3D RotVec(QuatD q)
        {
            if (q.W < 0) q = new QuatD(-q.X, -q.Y, -q.Z, -q.W);
            return q.ToRotVec();
        }

        /// <summary>blend.inertialize: following plus a decaying offset that continues previous.</summary>
        public static MotionD Inertialize(MotionD previous, MotionD following, double halflifeS)
        {
            double fps = following.Fps, dt = 1.0 / fps, y = 2.0 * Math.Log(2.0) / Math.Max(halflifeS, 1e-6);
            int n = following.Frames, joints = following.Joints, p = previous.Frames;
            var result = new MotionD(n, joints, fps);
            var offset = new Vec3D[joints];
            var velocity = new Vec3D[joints];
            for (int j = 0; j < joints; j++)
            {
                var prevVel = p > 1 ? RotVec(previous.Q(p - 1, j) * previous.Q(p - 2, j).Conjugate()) * fps : new Vec3D(0, 0, 0);
                var prevNext = QuatD.FromRotVec(prevVel * dt) * previous.Q(p - 1, j);
                var offsetQ = prevNext * following.Q(0, j).Conjugate();
                offset[j] = RotVec(offsetQ);
                var nextVel = n > 1 ? RotVec(following.Q(1, j) * following.Q(0, j).Conjugate()) * fps : new Vec3D(0, 0, 0);
                velocity[j] = Spring.OffsetRate(offsetQ, offset[j], prevVel, nextVel);
            }
            var prevRootVel = p > 1 ? (previous.R(p - 1) - previous.R(p - 2)) * fps : new Vec3D(0, 0, 0);
            var rootOffset = previous.R(p - 1) + prevRootVel * dt - following.R(0);
            var rootVelocity = prevRootVel - (n > 1 ? (following.R(1) - following.R(0)) * fps : new Vec3D(0, 0, 0));
            for (int t = 0; t < n; t++)
            {
                double time = t * dt, decay = Math.Exp(-y * time);
                for (int j = 0; j < joints; j++)
                {
                    var o = offset[j];
                    var v = velocity[j];
                    var d = new Vec3D(decay * (o.X + (v.X + o.X * y) * time), decay * (o.Y + (v.Y + o.Y * y) * time),
                                      decay * (o.Z + (v.Z + o.Z * y) * time));
                    result.SetQ(t, j, Normalize(QuatD.FromRotVec(d) * following.Q(t, j)));
                }
                var r = following.R(t);
                result.SetR(t, new Vec3D(r.X + decay * (rootOffset.X + (rootVelocity.X + rootOffset.X * y) * time),
                                         r.Y + decay * (rootOffset.Y + (rootVelocity.Y + rootOffset.Y * y) * time),
                                         r.Z + decay * (rootOffset.Z + (rootVelocity.Z + rootOffset.Z * y) * time)));
            }
            return result;
        }

        internal static MotionD Slice(MotionD m, int start, int stop)
        {
            var result = new MotionD(stop - start, m.Joints, m.Fps);
            Array.Copy(m.Root, start * 3, result.Root, 0, (stop - start) * 3);
            Array.Copy(m.Rot, start * m.Joints * 4, result.Rot, 0, (stop - start) * m.Joints * 4);
            return result;
        }

        internal static MotionD Concatenate(List<MotionD> parts)
        {
            int frames = 0;
            foreach (var p in parts) frames += p.Frames;
            var result = new MotionD(frames, parts[0].Joints, parts[0].Fps);
            int at = 0;
            foreach (var p in parts)
            {
                Array.Copy(p.Root, 0, result.Root, at * 3, p.Frames * 3);
                Array.Copy(p.Rot, 0, result.Rot, at * p.Joints * 4, p.Frames * p.Joints * 4);
                at += p.Frames;
            }
            return result;
        }

        /// <summary>render._pad: hold the first pose `before` frames and the last to `total`.</summary>
        internal static PoseTrack ToTrack(MotionD body, int before, int total, LibraryAsset library, double fps)
        {
            int joints = body.Joints;
            var track = new PoseTrack
            {
                JointNames = library.JointNames, Parents = library.Parents, Offsets = library.OffsetsM, Fps = fps,
                NumFrames = total, NumJoints = joints, Roots = new float[total * 3], Rotations = new float[total * joints * 4],
            };
            for (int t = 0; t < total; t++)
            {
                int source = Math.Min(Math.Max(t - before, 0), body.Frames - 1);
                for (int c = 0; c < 3; c++) track.Roots[t * 3 + c] = (float)body.Root[source * 3 + c];
                for (int c = 0; c < joints * 4; c++) track.Rotations[t * joints * 4 + c] = (float)body.Rot[source * joints * 4 + c];
            }
            return track;
        }
    }
}
