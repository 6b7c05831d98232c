// Planted feet pinned with two-bone leg IK: the port of musicdance.synthesis.contacts.lock_feet
// with the contacts of motion.analysis (foot_signals, contacts_from_signals), so the C# render
// gives the poses mdtool choreograph gives.
using System;
using System.Collections.Generic;

namespace MdTool.Dance.Choreography
{
    public static partial class TimelineRenderer
    {
        const double BlendS = 0.12, BlendInS = 0.034, MinLockS = 0.12, ReleaseMps = 0.5, MaxReleaseS = 0.2, AirM = 0.15;
        const double SoftReach = 0.97, PoleSmoothFrames = 2.0, PoleHintM = 0.03;
        const double ContactHeightM = 0.05, ContactSpeedMps = 0.3;
        const int ContactMinFrames = 3;

        static int BlendFrames(double seconds, double fps) { return Math.Max((int)Math.Round(seconds * fps, MidpointRounding.ToEven), 1); }

        static double SmoothStep(double x)
        {
            x = Math.Min(Math.Max(x, 0.0), 1.0);
            return x * x * (3.0 - 2.0 * x);
        }

        static List<int[]> Runs(bool[] mask)
        {
            var runs = new List<int[]>();
            for (int t = 0; t < mask.Length; t++)
            {
                if (!mask[t]) continue;
                int start = t;
                while (t < mask.Length && mask[t]) t++;
                runs.Add(new[] { start, t });
            }
            return runs;
        }

        static double Percentile2(double[] values)
        {
            var sorted = (double[])values.Clone();
            Array.Sort(sorted);
            double index = 0.02 * (sorted.Length - 1);
            int lo = (int)Math.Floor(index), hi = Math.Min(lo + 1, sorted.Length - 1);
            double frac = index - lo;
            return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
        }

        static bool[] RemoveShortRuns(bool[] mask, int minFrames)
        {
            foreach (bool value in new[] { false, true })
            {
                var next = (bool[])mask.Clone();
                int start = 0;
                for (int t = 1; t <= mask.Length; t++)
                {
                    if (t < mask.Length && mask[t] == mask[t - 1]) continue;
                    if (mask[start] == value && t - start < minFrames)
                        for (int i = start; i < t; i++) next[i] = !value;
                    start = t;
                }
                mask = next;
            }
            return mask;
        }

        /// <summary>motion.analysis contacts of one foot (ankle and toes) from heights and speeds.</summary>
        static bool[] Contacts(Globals g, int n, int ankle, int toes, double fps)
        {
            var touching = new bool[n];
            int[] points = { ankle, toes };
            var floors = new double[2];
            for (int p = 0; p < 2; p++)
            {
                var heights = new double[n];
                for (int t = 0; t < n; t++) heights[t] = g.Pos(t, points[p]).Y;
                floors[p] = Percentile2(heights);
            }
            for (int t = 0; t < n; t++)
                for (int p = 0; p < 2; p++)
                {
                    double speed = n < 2 ? 0.0 : (Gradient(g, t, points[p], n) * fps).Length;
                    if (g.Pos(t, points[p]).Y - floors[p] < ContactHeightM && speed < ContactSpeedMps) touching[t] = true;
                }
            return RemoveShortRuns(touching, ContactMinFrames);
        }

        /// <summary>contacts.contact_targets: where the ankle should be and how much the leg is solved.</summary>
        static void ContactTargets(Vec3D[] ankles, bool[] contact, double fps, Vec3D[] target, double[] weight)
        {
            int total = ankles.Length;
            var pullX = new double[total];
            var pullZ = new double[total];
            double shortest = MinLockS * fps - 1e-6;
            foreach (var run in Runs(contact))
            {
                int start = run[0], stop = run[1];
                if (stop - start < shortest) continue;
                double ox = ankles[stop - 1].X - ankles[start].X, oz = ankles[stop - 1].Z - ankles[start].Z;
                double offset = Math.Sqrt(ox * ox + oz * oz);
                int approach = BlendFrames(BlendInS, fps);
                int release = BlendFrames(Math.Min(Math.Max(BlendS, offset / ReleaseMps), MaxReleaseS), fps);
                int first = Math.Max(start - approach, 0), end = Math.Min(stop + release, total);
                for (int t = first; t < end; t++)
                {
                    double w;
                    if (t < start)
                        w = SmoothStep((t - start + approach + 1) / (approach + 1.0))
                            * SmoothStep(1.0 - (ankles[t].Y - ankles[start].Y) / AirM);
                    else if (t < stop) w = 1.0;
                    else
                        w = SmoothStep(1.0 - (t - stop + 1) / (release + 1.0))
                            * SmoothStep(1.0 - (ankles[t].Y - ankles[stop - 1].Y) / AirM);
                    pullX[t] += w * (ankles[start].X - ankles[t].X);
                    pullZ[t] += w * (ankles[start].Z - ankles[t].Z);
                    weight[t] += w;
                }
            }
            for (int t = 0; t < total; t++)
            {
                double scale = Math.Max(weight[t], 1.0);
                target[t] = new Vec3D(ankles[t].X + pullX[t] / scale, ankles[t].Y, ankles[t].Z + pullZ[t] / scale);
                weight[t] = Math.Min(weight[t], 1.0);
            }
        }

        static Vec3D Unit(Vec3D v, double eps = 1e-9) { return v * (1.0 / Math.Max(v.Length, eps)); }

        static double Dot(Vec3D a, Vec3D b) { return a.X * b.X + a.Y * b.Y + a.Z * b.Z; }

        /// <summary>contacts.knee_poles: bend directions, Gaussian-smoothed over each contact run.</summary>
        static Vec3D[] KneePoles(Vec3D[] hips, Vec3D[] knees, Vec3D[] ankles, Vec3D[] forward, bool[] contact)
        {
            int n = hips.Length;
            var pole = new Vec3D[n];
            for (int t = 0; t < n; t++)
            {
                var along = Unit(ankles[t] - hips[t]);
                var offset = knees[t] - hips[t];
                var bend = offset - along * Dot(offset, along);
                var hint = Unit(forward[t] - along * Dot(forward[t], along));
                pole[t] = bend + hint * PoleHintM;
            }
            int radius = (int)(4.0 * PoleSmoothFrames + 0.5);
            var weights = new double[2 * radius + 1];
            double sum = 0;
            for (int i = -radius; i <= radius; i++) sum += weights[i + radius] = Math.Exp(-0.5 / (PoleSmoothFrames * PoleSmoothFrames) * i * i);
            for (int i = 0; i < weights.Length; i++) weights[i] /= sum;
            foreach (var run in Runs(contact))
            {
                int start = run[0], stop = run[1];
                var smoothed = new Vec3D[stop - start];
                for (int t = start; t < stop; t++)
                {
                    var acc = pole[t] * weights[radius];
                    for (int i = 1; i <= radius; i++)
                        acc = acc + (pole[Math.Max(t - i, start)] + pole[Math.Min(t + i, stop - 1)]) * weights[radius + i];
                    smoothed[t - start] = acc;
                }
                Array.Copy(smoothed, 0, pole, start, smoothed.Length);
            }
            for (int t = 0; t < n; t++) pole[t] = Unit(pole[t]);
            return pole;
        }

        static QuatD Between(Vec3D u, Vec3D v)
        {
            u = Unit(u);
            v = Unit(v);
            double w = 1.0 + Dot(u, v);
            var xyz = Vec3D.Cross(u, v);
            if (w < 1e-9)
            {
                var helper = Math.Abs(u.X) < 0.9 ? new Vec3D(1, 0, 0) : new Vec3D(0, 1, 0);
                var perp = Vec3D.Cross(u, helper);
                xyz = perp * (1.0 / perp.Length);
                w = 0.0;
            }
            return Normalize(new QuatD(xyz.X, xyz.Y, xyz.Z, w));
        }

        /// <summary>motion.ik.two_bone_ik with soft reach: the knee position.</summary>
        static Vec3D TwoBoneIk(Vec3D root, Vec3D target, Vec3D pole, double upper, double lower, double softFrom)
        {
            var reach = target - root;
            double distance = reach.Length, total = upper + lower;
            double soft = Math.Min(softFrom, 0.998) * total;
            double room = Math.Max(total - soft, 1e-9);
            if (distance > soft) distance = total - room * Math.Exp(-Math.Max(distance - soft, 0.0) / room);
            distance = Math.Min(Math.Max(distance, Math.Abs(upper - lower) + 1e-6), 0.999 * total);
            var along = Unit(reach);
            var bend = Unit(pole - along * Dot(pole, along));
            double cos = (upper * upper + distance * distance - lower * lower) / (2 * upper * distance);
            double sin = Math.Sqrt(Math.Min(Math.Max(1.0 - cos * cos, 0.0), 1.0));
            return root + (along * cos + bend * sin) * upper;
        }

        /// <summary>contacts.lock_feet on the contacts found in the motion itself.</summary>
        static MotionD LockFeet(MotionD motion, LibraryAsset library)
        {
            var g = Globals.Of(motion, library);
            int n = motion.Frames;
            var result = new MotionD(n, motion.Joints, motion.Fps);
            Array.Copy(motion.Root, result.Root, motion.Root.Length);
            Array.Copy(motion.Rot, result.Rot, motion.Rot.Length);
            string[][] legs = { new[] { "LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "LeftToes" },
                                new[] { "RightUpperLeg", "RightLowerLeg", "RightFoot", "RightToes" } };
            foreach (var leg in legs)
            {
                int u = library.JointIndexOf(leg[0]), lo = library.JointIndexOf(leg[1]), f = library.JointIndexOf(leg[2]), toe = library.JointIndexOf(leg[3]);
                var contact = Contacts(g, n, f, toe, motion.Fps);
                var hip = new Vec3D[n];
                var knee = new Vec3D[n];
                var ankle = new Vec3D[n];
                var forward = new Vec3D[n];
                for (int t = 0; t < n; t++)
                {
                    hip[t] = g.Pos(t, u); knee[t] = g.Pos(t, lo); ankle[t] = g.Pos(t, f);
                    var fw = g.Pos(t, toe) - ankle[t];
                    forward[t] = new Vec3D(fw.X, 0.0, fw.Z);
                }
                var target = new Vec3D[n];
                var weight = new double[n];
                ContactTargets(ankle, contact, motion.Fps, target, weight);
                bool any = false;
                foreach (double w in weight) any |= w > 0;
                if (!any) continue;
                double upperLen = new Vec3D(library.OffsetsM[3 * lo], library.OffsetsM[3 * lo + 1], library.OffsetsM[3 * lo + 2]).Length;
                double lowerLen = new Vec3D(library.OffsetsM[3 * f], library.OffsetsM[3 * f + 1], library.OffsetsM[3 * f + 2]).Length;
                var moved = new bool[n];  // every frame the pin acts on (lock_feet: weight > 0)
                for (int t = 0; t < n; t++) moved[t] = weight[t] > 0;
                var pole = KneePoles(hip, knee, ankle, forward, moved);
                int parentJoint = library.Parents[u];
                for (int t = 0; t < n; t++)
                {
                    if (!(weight[t] > 0)) continue;
                    double own = (ankle[t] - hip[t]).Length / (upperLen + lowerLen);
                    var solved = TwoBoneIk(hip[t], target[t], pole[t], upperLen, lowerLen, Math.Max(SoftReach, own + 1e-4));
                    var newKnee = knee[t] + (solved - knee[t]) * weight[t];
                    newKnee = hip[t] + (newKnee - hip[t]) * (upperLen / Math.Max((newKnee - hip[t]).Length, 1e-9));
                    var turnUpper = Between(knee[t] - hip[t], newKnee - hip[t]);
                    var upperRot = turnUpper * g.Q[t * g.Joints + u];
                    var bentAnkle = newKnee + turnUpper.Rotate(ankle[t] - knee[t]);
                    var toTarget = target[t] - newKnee;
                    var newAnkle = newKnee + toTarget * (lowerLen / toTarget.Length);
                    var turnLower = Between(bentAnkle - newKnee, newAnkle - newKnee);
                    var lowerRot = turnLower * (turnUpper * g.Q[t * g.Joints + lo]);
                    var parent = g.Q[t * g.Joints + parentJoint];
                    result.SetQ(t, u, parent.Conjugate() * upperRot);
                    result.SetQ(t, lo, upperRot.Conjugate() * lowerRot);
                    result.SetQ(t, f, lowerRot.Conjugate() * g.Q[t * g.Joints + f]);
                }
            }
            return result;
        }
    }
}
