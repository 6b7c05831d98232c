// The rest of musicdance.choreo.render in C#, for the same poses as `mdtool choreograph`: phrases
// played on into the take that continues them (render.continuations, blend.extend), the cut
// searched within a beat of every boundary with trial joins and the peak check (find_cut,
// _joined_peaks), the join's half-life scaled with its gap, and planted feet pinned with
// two-bone leg IK (synthesis.contacts.lock_feet on motion.analysis contacts).
using System;
using System.Collections.Generic;

namespace MdTool.Dance.Choreography
{
    /// <summary>What the renderer does (musicdance.choreo.render.RenderOptions).</summary>
    public sealed class RenderOptions
    {
        public double HalflifeS = 0.18;
        /// <summary>Search the cut within a beat of each boundary (else cut on count 1 with the
        /// base half-life).</summary>
        public bool SearchJoins = true;
        /// <summary>Pin planted feet with leg IK.</summary>
        public bool PlantFeet = true;
        /// <summary>Play phrases on into the take that continues them (and loops on; the Python
        /// renderer always does).</summary>
        public bool Continuations = true;

        /// <summary>The full Python render (mdtool choreograph's).</summary>
        public static RenderOptions Full { get { return new RenderOptions(); } }

    }

    /// <summary>Global joint positions [T * J] and rotations [T * J] of a motion.</summary>
    public sealed class Globals
    {
        public Vec3D[] P;
        public QuatD[] Q;
        public int Joints;

        public Vec3D Pos(int t, int j) { return P[t * Joints + j]; }

        public static Globals Of(MotionD m, LibraryAsset skeleton)
        {
            int n = m.Frames, joints = m.Joints;
            var g = new Globals { P = new Vec3D[n * joints], Q = new QuatD[n * joints], Joints = joints };
            for (int t = 0; t < n; t++)
            {
                g.Q[t * joints] = m.Q(t, 0);
                g.P[t * joints] = m.R(t);
                for (int j = 1; j < joints; j++)
                {
                    int p = skeleton.Parents[j];
                    var offset = new Vec3D(skeleton.OffsetsM[3 * j], skeleton.OffsetsM[3 * j + 1], skeleton.OffsetsM[3 * j + 2]);
                    var parent = g.Q[t * joints + p];
                    g.Q[t * joints + j] = parent * m.Q(t, j);
                    g.P[t * joints + j] = g.P[t * joints + p] + parent.Rotate(offset);
                }
            }
            return g;
        }
    }

    public static partial class TimelineRenderer
    {
        const double JoinSearchBeats = 1.0, JoinShiftCost = 0.5, JoinHalflifeMax = 2.0, JoinPeakCost = 0.5;
        const double JoinPeakRefMps2 = 100.0, JoinPeakWindowS = 0.4, JoinPeakShare = 0.85, ExtendHalflifeS = 0.1, CoastHalflifeS = 0.15;
        const int JoinTrialCuts = 3, FeatureWindow = 3, FeatureSize = 34;
        static readonly string[] FeatureJoints = { "LeftFoot", "RightFoot", "LeftHand", "RightHand", "Head" };

        sealed class Piece
        {
            public int Slot, Lo, First, Stop;
            public MotionD Motion;
            public double BeatFrames, PeakMps2;
            public double[] Features;
            public int Hi { get { return Lo + Motion.Frames; } }
        }

        /// <summary>The timeline rendered as musicdance.choreo.render.render_dance does with
        /// <paramref name="options"/> (RenderOptions.Full: the same poses as mdtool choreograph).</summary>
        public static PoseTrack Render(DanceTimeline timeline, LibraryAsset library, RenderOptions options = null, Action<float> progress = null)
        {
            options = options ?? RenderOptions.Full;
            double fps = timeline.Fps;
            var pieces = WarpPieces(timeline, library, options);
            if (pieces.Count == 0) throw new DanceFormatException("no slot is long enough for a frame at " + fps + " fps");
            if (progress != null) progress(0.4f);
            var cuts = new List<int> { pieces[0].First };
            var halflives = new List<double> { options.HalflifeS };
            for (int p = 1; p < pieces.Count; p++)
            {
                double halflife;
                cuts.Add(FindCut(pieces[p - 1], pieces[p], options, library, out halflife));
                halflives.Add(halflife);
            }
            cuts.Add(pieces[pieces.Count - 1].Stop);
            if (progress != null) progress(0.7f);
            var segments = new List<MotionD>();
            MotionD previous = null;
            for (int k = 0; k < pieces.Count; k++)
            {
                var piece = pieces[k];
                int start = cuts[k] - piece.Lo, stop = cuts[k + 1] - piece.Lo;
                var whole = previous == null ? piece.Motion
                    : AlignRoot(piece.Motion, previous.R(previous.Frames - 1), Heading(previous.Q(previous.Frames - 1, 0)), start);
                var segment = Slice(whole, Math.Min(start, whole.Frames), Math.Min(Math.Max(stop, start), whole.Frames));
                if (previous != null && segment.Frames > 0) segment = Inertialize(previous, segment, halflives[k]);
                segments.Add(segment);
                previous = segment;
            }
            var body = Concatenate(segments);
            if (options.PlantFeet) body = LockFeet(body, library);
            var track = ToTrack(body, FrameAt(timeline.Slots[0].StartS, fps), (int)Math.Floor(timeline.DurationS * fps + 1e-6) + 1, library, fps);
            track.Slots = Knots(timeline, library);
            if (progress != null) progress(1f);
            return track;
        }

        static List<SlotKnots> Knots(DanceTimeline timeline, LibraryAsset library)
        {
            var knots = new List<SlotKnots>();
            foreach (var slot in timeline.Slots)
            {
                int k = library.IndexOf(slot.PhraseId);
                var source = SourceCountFrames(library.CountsOf(k), library.NumFrames[k], library.Fps[k], slot.NumCounts);
                var targets = new double[slot.NumCounts + 1];
                Array.Copy(slot.BeatTimesS, targets, slot.NumCounts);
                targets[slot.NumCounts] = slot.EndS;
                var sourceS = new double[source.Length];
                for (int c = 0; c < source.Length; c++) sourceS[c] = source[c] / library.Fps[k];
                knots.Add(new SlotKnots
                {
                    Index = slot.Index, PhraseId = slot.PhraseId, StartS = slot.StartS, EndS = slot.EndS,
                    FirstFrame = FrameAt(slot.StartS, timeline.Fps), StopFrame = FrameAt(slot.EndS, timeline.Fps),
                    TargetsS = targets, SourceS = sourceS,
                });
            }
            return knots;
        }

        // ---- pieces -------------------------------------------------------------------------

        static List<Piece> WarpPieces(DanceTimeline timeline, LibraryAsset library, RenderOptions options)
        {
            double fps = timeline.Fps;
            var sources = new Dictionary<int, Tuple<MotionD, int, bool, bool>>();
            var pieces = new List<Piece>();
            foreach (var slot in timeline.Slots)
            {
                int k = library.IndexOf(slot.PhraseId);
                if (k < 0) throw new DanceAssetException("phrase " + slot.PhraseId + " is not in the library asset");
                Tuple<MotionD, int, bool, bool> source;
                if (!sources.TryGetValue(k, out source))
                {
                    var motion = Decode(library, k, false);
                    int before = -1, after = -1;
                    if (options.Continuations) CachedContinuations(library, k, motion, out before, out after);
                    MotionD beforeMotion = before < 0 ? null : before == k ? motion : Decode(library, before, false);
                    MotionD afterMotion = after < 0 ? null : after == k ? motion : Decode(library, after, false);
                    int shift;
                    var extended = Extend(motion, motion.Frames - 1, beforeMotion, afterMotion, out shift);
                    extended = Coasted(extended, ref shift, before < 0, after < 0);
                    Unroll(extended);
                    sources[k] = source = Tuple.Create(extended, shift, before >= 0, after >= 0);
                }
                double beat = (slot.BeatTimesS.Length > 1 ? slot.BeatTimesS[1] - slot.BeatTimesS[0] : slot.EndS - slot.StartS) * fps;
                int reach = (int)Math.Round(JoinSearchBeats * beat, MidpointRounding.ToEven) + 2;
                bool goesOn = source.Item4 || slot.NumCounts < library.CountIndptr[k + 1] - library.CountIndptr[k];
                int marginBefore = options.Continuations && source.Item3 ? reach : 0;
                int marginAfter = options.Continuations && goesOn ? reach : 0;
                int first = FrameAt(slot.StartS, fps), stop = FrameAt(slot.EndS, fps);
                if (stop <= first) continue;
                var counts = SourceCountFrames(library.CountsOf(k), library.NumFrames[k], library.Fps[k], slot.NumCounts);
                var targets = new double[slot.NumCounts + 1];
                Array.Copy(slot.BeatTimesS, targets, slot.NumCounts);
                targets[slot.NumCounts] = slot.EndS;
                var sourceS = new double[counts.Length];
                for (int c = 0; c < counts.Length; c++) sourceS[c] = (counts[c] + source.Item2) / source.Item1.Fps;
                var warped = Warp(source.Item1, targets, sourceS, fps, (first - marginBefore) / fps, (stop + marginAfter) / fps);
                var g = Globals.Of(warped, library);
                var piece = new Piece
                {
                    Slot = slot.Index, Motion = warped, Lo = first - marginBefore, First = first, Stop = stop, BeatFrames = beat,
                    Features = PoseFeatures(g, warped, library),
                };
                piece.PeakMps2 = Peak(g, Math.Max(marginBefore, 0), Math.Min(marginBefore + stop - first, warped.Frames), fps);
                pieces.Add(piece);
            }
            return pieces;
        }

        /// <summary>Largest joint acceleration (m/s^2) over frames [start, stop) (second differences).</summary>
        static double Peak(Globals g, int start, int stop, double fps)
        {
            if (stop - start < 3) return double.PositiveInfinity;
            double best = 0;
            for (int t = start + 2; t < stop; t++)
                for (int j = 0; j < g.Joints; j++)
                {
                    var d = (g.Pos(t, j) - g.Pos(t - 1, j)) - (g.Pos(t - 1, j) - g.Pos(t - 2, j));
                    best = Math.Max(best, d.Length);
                }
            return best * fps * fps;
        }

        /// <summary>library.phrase.pose_features of every frame: [T * 34].</summary>
        static double[] PoseFeatures(Globals g, MotionD m, LibraryAsset library)
        {
            int n = m.Frames;
            var joints = new int[FeatureJoints.Length];
            for (int i = 0; i < joints.Length; i++) joints[i] = library.JointIndexOf(FeatureJoints[i]);
            var result = new double[n * FeatureSize];
            for (int t = 0; t < n; t++)
            {
                var forward = g.Q[t * g.Joints].Rotate(new Vec3D(0, 0, 1));
                double heading = Math.Atan2(forward.X, forward.Z);
                var toLocal = Yaw(-heading);
                var root = g.Pos(t, 0);
                int o = t * FeatureSize;
                for (int i = 0; i < joints.Length; i++)
                {
                    var p = toLocal.Rotate(g.Pos(t, joints[i]) - new Vec3D(root.X, 0, root.Z));
                    result[o + 3 * i] = p.X; result[o + 3 * i + 1] = p.Y; result[o + 3 * i + 2] = p.Z;
                }
                result[o + 15] = root.Y;
                for (int i = 0; i <= joints.Length; i++)
                {
                    int j = i == 0 ? 0 : joints[i - 1];
                    var v = toLocal.Rotate(Gradient(g, t, j, n) * m.Fps);
                    result[o + 16 + 3 * i] = v.X; result[o + 17 + 3 * i] = v.Y; result[o + 18 + 3 * i] = v.Z;
                }
            }
            return result;
        }

        /// <summary>np.gradient along time at frame t (one-sided at the ends; 0 for one frame).</summary>
        static Vec3D Gradient(Globals g, int t, int j, int n)
        {
            if (n < 2) return new Vec3D(0, 0, 0);
            if (t == 0) return g.Pos(1, j) - g.Pos(0, j);
            if (t == n - 1) return g.Pos(n - 1, j) - g.Pos(n - 2, j);
            return (g.Pos(t + 1, j) - g.Pos(t - 1, j)) * 0.5;
        }

        /// <summary>library.transitions.pose_velocity_cost of two feature rows.</summary>
        static double Cost(double[] a, int ai, double[] b, int bi)
        {
            double pose = 0, velocity = 0;
            for (int f = 0; f < 16; f++) { double d = a[ai + f] - b[bi + f]; pose += d * d; }
            for (int f = 16; f < FeatureSize; f++) { double d = a[ai + f] - b[bi + f]; velocity += d * d; }
            return Math.Sqrt(pose / 16.0 * 3.0) / 0.15 + Math.Sqrt(velocity / 18.0 * 3.0) / 0.8;
        }

        static double CostToStored(double[] a, int ai, float[] stored, int row)
        {
            var b = new double[FeatureSize];
            for (int f = 0; f < FeatureSize; f++) b[f] = stored[row * FeatureSize + f];
            return Cost(a, ai, b, 0);
        }

        /// <summary>Continuations, computed once per phrase and library asset (re-renders after
        /// an edit reuse them; thread-safe).</summary>
        static void CachedContinuations(LibraryAsset library, int k, MotionD motion, out int before, out int after)
        {
            int[] known;
            lock (library.ContinuationCache)
            {
                if (library.ContinuationCache.TryGetValue(k, out known)) { before = known[0]; after = known[1]; return; }
            }
            Continuations(library, k, motion, out before, out after);
            lock (library.ContinuationCache) library.ContinuationCache[k] = new[] { before, after };
        }

        /// <summary>render.continuations: the phrase that leads seamlessly into phrase k and the
        /// one it leads into (k itself for a loop), or -1.</summary>
        static void Continuations(LibraryAsset library, int k, MotionD motion, out int before, out int after)
        {
            before = after = -1;
            int n = motion.Frames;
            if (n < 3) return;
            var features = PoseFeatures(Globals.Of(motion, library), motion, library);
            double step = double.NegativeInfinity;
            for (int t = 1; t < n; t++) step = Math.Max(step, Cost(features, t * FeatureSize, features, (t - 1) * FeatureSize));
            if (Cost(features, (n - 1) * FeatureSize, features, 0) <= step) { before = after = k; return; }
            var others = new List<int>();
            for (int i = 0; i < library.NumPhrases; i++) if (library.Fps[i] == library.Fps[k] && i != k) others.Add(i);
            if (others.Count == 0) return;
            var head = new double[FeatureSize];
            var tail = new double[FeatureSize];
            for (int f = 0; f < FeatureSize; f++)
            {
                head[f] = (features[f] + features[FeatureSize + f] + features[2 * FeatureSize + f]) / FeatureWindow;
                tail[f] = (features[(n - 3) * FeatureSize + f] + features[(n - 2) * FeatureSize + f] + features[(n - 1) * FeatureSize + f]) / FeatureWindow;
            }
            for (int side = 0; side < 2; side++)
            {
                bool atEnd = side == 1;
                var rough = new double[others.Count];
                for (int i = 0; i < others.Count; i++)
                    rough[i] = atEnd ? CostToStored(tail, 0, library.StartFeatures, others[i]) : CostToStored(head, 0, library.EndFeatures, others[i]);
                var order = new int[others.Count];
                for (int i = 0; i < order.Length; i++) order[i] = i;
                Array.Sort(order, (x, y) => { int c = rough[x].CompareTo(rough[y]); return c != 0 ? c : x.CompareTo(y); });
                int best = -1;
                double bestCost = 0;
                for (int r = 0; r < Math.Min(2, order.Length); r++)
                {
                    int other = others[order[r]];
                    var motionOther = Decode(library, other, false);
                    int m = motionOther.Frames;
                    var edge = atEnd ? Slice(motionOther, 0, Math.Min(2, m)) : Slice(motionOther, Math.Max(m - 2, 0), m);
                    var edgeFeatures = PoseFeatures(Globals.Of(edge, library), edge, library);
                    int at = (atEnd ? 0 : 1) * FeatureSize;
                    double cost = atEnd ? Cost(features, (n - 1) * FeatureSize, edgeFeatures, at) : Cost(edgeFeatures, at, features, 0);
                    if (cost <= step && (best < 0 || cost < bestCost)) { best = other; bestCost = cost; }
                }
                if (atEnd) after = best; else before = best;
            }
        }

        static double WrapAngle(double angle)
        {
            double b = 2 * Math.PI, r = (angle + Math.PI) % b;  // Python's float modulo
            if (r != 0 && (r < 0) != (b < 0)) r += b;
            return r - Math.PI;
        }

        static MotionD Reverse(MotionD m)
        {
            var result = new MotionD(m.Frames, m.Joints, m.Fps);
            int stride = m.Joints * 4;
            for (int t = 0; t < m.Frames; t++)
            {
                Array.Copy(m.Root, (m.Frames - 1 - t) * 3, result.Root, t * 3, 3);
                Array.Copy(m.Rot, (m.Frames - 1 - t) * stride, result.Rot, t * stride, stride);
            }
            return result;
        }

        /// <summary>render._coasted: the sides no other phrase continues coast to rest for a
        /// second (blend.coast; the start played backwards).</summary>
        static MotionD Coasted(MotionD motion, ref int shift, bool before, bool after)
        {
            int frames = (int)Math.Round(motion.Fps, MidpointRounding.ToEven);
            if (after) motion = Coast(motion, frames);
            if (before) { motion = Reverse(Coast(Reverse(motion), frames)); shift += frames; }
            return motion;
        }

        /// <summary>blend.coast: the motion played on for `frames` more frames, each joint's
        /// angular velocity and the root's velocity at its end halving every half-life.</summary>
        static MotionD Coast(MotionD motion, int frames)
        {
            int n = motion.Frames;
            if (frames <= 0 || n < 2) return motion;
            double fps = motion.Fps, rate = Math.Log(2.0) / Math.Max(CoastHalflifeS, 1e-6);
            var tail = new MotionD(frames, motion.Joints, fps);
            var rootVelocity = (motion.R(n - 1) - motion.R(n - 2)) * fps;
            var spin = new Vec3D[motion.Joints];
            for (int j = 0; j < motion.Joints; j++) spin[j] = RotVec(motion.Q(n - 1, j) * motion.Q(n - 2, j).Conjugate()) * fps;
            for (int i = 0; i < frames; i++)
            {
                double travel = (1.0 - Math.Exp(-rate * (i + 1) / fps)) / rate;
                tail.SetR(i, motion.R(n - 1) + rootVelocity * travel);
                for (int j = 0; j < motion.Joints; j++)
                    tail.SetQ(i, j, Normalize(QuatD.FromRotVec(spin[j] * travel) * motion.Q(n - 1, j)));
            }
            return Concatenate(new List<MotionD> { motion, tail });
        }

        /// <summary>blend.extend: the motion played on into `after` and coming out of `before`.</summary>
        static MotionD Extend(MotionD motion, int frames, MotionD before, MotionD after, out int shift)
        {
            int n = motion.Frames;
            var parts = new List<MotionD> { motion };
            shift = 0;
            double yawLast = Heading(motion.Q(n - 1, 0)), yawBefore = n > 1 ? Heading(motion.Q(n - 2, 0)) : yawLast;
            double yawFirst = Heading(motion.Q(0, 0)), yawSecond = n > 1 ? Heading(motion.Q(1, 0)) : yawFirst;
            int m;
            if (after != null && (m = Math.Min(frames, after.Frames - 1)) > 0)
            {
                var head = AlignRoot(Slice(after, 0, m), motion.R(n - 1) * 2.0 - motion.R(n - 2), yawLast + WrapAngle(yawLast - yawBefore), 0);
                parts.Add(Inertialize(motion, head, ExtendHalflifeS));
            }
            if (before != null && (m = Math.Min(frames, before.Frames - 1)) > 0)
            {
                var tail = AlignRoot(Slice(before, before.Frames - m, before.Frames), motion.R(0) * 2.0 - motion.R(1),
                                     yawFirst - WrapAngle(yawSecond - yawFirst), m - 1);
                parts.Insert(0, Reverse(Inertialize(Reverse(motion), Reverse(tail), ExtendHalflifeS)));
                shift = m;
            }
            return parts.Count > 1 ? Concatenate(parts) : motion;
        }

        // ---- cuts ---------------------------------------------------------------------------

        static double[] FeaturesAt(Piece piece, int frame)
        {
            int i = Math.Min(Math.Max(frame - piece.Lo, 0), piece.Motion.Frames - 1);
            var row = new double[FeatureSize];
            Array.Copy(piece.Features, i * FeatureSize, row, 0, FeatureSize);
            return row;
        }

        static double JoinHalflife(double cost, double halflifeS)
        {
            return halflifeS * Math.Min(Math.Max(Math.Sqrt(Math.Max(cost, 0.0) / 1.0), 1.0), JoinHalflifeMax);
        }

        /// <summary>render.find_cut: the output frame where `after` takes over from `before`.</summary>
        static int FindCut(Piece before, Piece after, RenderOptions options, LibraryAsset library, out double halflife)
        {
            double beat = after.BeatFrames;
            int boundary = after.First;
            int reach = options.SearchJoins ? (int)Math.Round(JoinSearchBeats * beat, MidpointRounding.ToEven) : 0;
            int low = Math.Max(Math.Max(boundary - reach, after.Lo + 1), before.First + 1);
            int high = Math.Min(Math.Min(boundary + reach, before.Hi - 2), after.Stop - 1);
            low = Math.Min(low, boundary);
            high = Math.Max(high, boundary);
            int count = high - low + 1;
            var cost = new double[count];
            var total = new double[count];
            for (int i = 0; i < count; i++)
            {
                cost[i] = Cost(FeaturesAt(before, low + i), 0, FeaturesAt(after, low + i), 0);
                total[i] = cost[i] + JoinShiftCost * Math.Abs(low + i - boundary) / Math.Max(beat, 1.0);
            }
            int best = 0;
            if (options.SearchJoins && count > 1)
            {
                var order = new int[count];
                for (int i = 0; i < count; i++) order[i] = i;
                Array.Sort(order, (x, y) => { int c = total[x].CompareTo(total[y]); return c != 0 ? c : x.CompareTo(y); });
                var trials = new SortedSet<int>();
                for (int i = 0; i < Math.Min(JoinTrialCuts, count); i++) trials.Add(order[i]);
                trials.Add(boundary - low);
                var list = new List<int>(trials);
                double limit = JoinPeakShare * Math.Max(before.PeakMps2, after.PeakMps2);
                bool bestOver = false;
                double bestPeak = 0, bestTotal = 0;
                for (int i = 0; i < list.Count; i++)
                {
                    int trial = list[i];
                    double peak = JoinedPeak(before, after, low + trial, JoinHalflife(cost[trial], options.HalflifeS), library);
                    bool over = peak > limit;
                    double shown = over ? peak : 0.0, score = total[trial] + JoinPeakCost * peak / JoinPeakRefMps2;
                    bool better = i == 0 || (over != bestOver ? !over : shown != bestPeak ? shown < bestPeak : score < bestTotal);
                    if (better) { best = trial; bestOver = over; bestPeak = shown; bestTotal = score; }
                }
            }
            else
            {
                for (int i = 1; i < count; i++) if (total[i] < total[best]) best = i;
            }
            halflife = JoinHalflife(cost[best], options.HalflifeS);
            return low + best;
        }

        /// <summary>render._joined_peaks for one cut: the peak joint acceleration from two frames
        /// before the cut to JoinPeakWindowS after it, joined as the render joins.</summary>
        static double JoinedPeak(Piece before, Piece after, int cut, double halflifeS, LibraryAsset library)
        {
            double fps = after.Motion.Fps;
            int window = (int)Math.Round(JoinPeakWindowS * fps, MidpointRounding.ToEven) + 1;
            int start = Math.Max(cut - before.Lo - 3, 0);
            int stop = Math.Min(Math.Max(cut - before.Lo, start + 2), before.Motion.Frames);
            var previous = Slice(before.Motion, start, stop);
            int frame = cut - after.Lo;
            var aligned = AlignRoot(after.Motion, previous.R(previous.Frames - 1), Heading(previous.Q(previous.Frames - 1, 0)), frame);
            var following = Slice(aligned, frame, Math.Min(frame + window, aligned.Frames));
            var joined = Concatenate(new List<MotionD> { previous, Inertialize(previous, following, halflifeS) });
            var g = Globals.Of(joined, library);
            return Peak(g, 0, joined.Frames, fps);
        }
    }
}
