// Blending at a switch between two dances (an edit that arrives mid-song, a jump in the song):
// the same inertialization the Python renderer uses at phrase joins
// (musicdance.synthesis.blend.inertialize). The new dance plays at once; the difference between
// where the old dance was heading (one frame on, at its velocity) and where the new one is, and
// the difference of their velocities, decay to zero with a critically damped spring.
using System;

namespace MdTool.Dance
{
    public static class Spring
    {
        /// <summary>musicdance.synthesis.blend.decay_spring for one value: the offset after
        /// <paramref name="t"/> seconds; it halves roughly every half-life.</summary>
        public static double Decay(double offset, double velocity, double halflifeS, double t)
        {
            double y = 2.0 * Math.Log(2.0) / Math.Max(halflifeS, 1e-6);
            return Math.Exp(-y * t) * (offset + (velocity + offset * y) * t);
        }

        /// <summary>musicdance.synthesis.blend.rotvec_rate: how fast the rotation vector
        /// <paramref name="rotvec"/> changes while exp(rotvec) turns at
        /// <paramref name="angularVelocity"/> (the inverse left Jacobian of SO(3)).</summary>
        public static Vec3D RotvecRate(Vec3D rotvec, Vec3D angularVelocity)
        {
            double angle = rotvec.Length;
            double safe = Math.Min(Math.Max(angle, 1e-4), Math.PI - 1e-6);
            double tail = angle < 1e-4 ? 1.0 / 12.0 : 1.0 / (safe * safe) - 1.0 / (2.0 * safe * Math.Tan(safe / 2.0));
            var across = Vec3D.Cross(rotvec, angularVelocity);
            return angularVelocity - across * 0.5 + Vec3D.Cross(rotvec, across) * tail;
        }

        /// <summary>The offset's rate for an inertialization (musicdance.synthesis.blend.inertialize):
        /// the previous motion's angular velocity less the following one's seen through the
        /// offset, through the exponential map's Jacobian.</summary>
        public static Vec3D OffsetRate(QuatD offset, Vec3D rotOffset, Vec3D previousVelocity, Vec3D followingVelocity)
        {
            return RotvecRate(rotOffset, previousVelocity - offset.Rotate(followingVelocity));
        }
    }

    public sealed class Inertializer
    {
        public const double DefaultHalflifeS = 0.18;
        readonly int joints;
        readonly Vec3D[] rotOffset, rotVelocity;
        Vec3D rootOffset, rootVelocity;
        double halflife, start;
        bool active;

        public Inertializer(int numJoints)
        {
            joints = numJoints;
            rotOffset = new Vec3D[numJoints];
            rotVelocity = new Vec3D[numJoints];
        }

        public bool Active { get { return active; } }

        /// <summary>Start a transition at song time <paramref name="atS"/>. previousBefore and
        /// previousLast: the old dance one frame before and at the switch; nextFirst and nextSecond:
        /// the new dance at the switch and one frame after; dt = 1 / fps.</summary>
        public void Begin(Pose previousBefore, Pose previousLast, Pose nextFirst, Pose nextSecond, double dt,
                          double atS, double halflifeS = DefaultHalflifeS)
        {
            double fps = 1.0 / dt;
            for (int j = 0; j < joints; j++)
            {
                QuatD p0 = previousBefore.Rotation(j), p1 = previousLast.Rotation(j);
                QuatD n0 = nextFirst.Rotation(j), n1 = nextSecond.Rotation(j);
                Vec3D prevVelocity = (p1 * p0.Conjugate()).ToRotVec() * fps;
                QuatD prevNext = QuatD.FromRotVec(prevVelocity * dt) * p1;
                QuatD offset = prevNext * n0.Conjugate();
                rotOffset[j] = offset.ToRotVec();
                rotVelocity[j] = Spring.OffsetRate(offset, rotOffset[j], prevVelocity, (n1 * n0.Conjugate()).ToRotVec() * fps);
            }
            Vec3D r0 = previousBefore.RootPosition, r1 = previousLast.RootPosition;
            Vec3D rootVel = (r1 - r0) * fps;
            rootOffset = r1 + rootVel * dt - nextFirst.RootPosition;
            rootVelocity = rootVel - (nextSecond.RootPosition - nextFirst.RootPosition) * fps;
            halflife = halflifeS;
            start = atS;
            active = true;
        }

        /// <summary>Add the decaying offsets to <paramref name="pose"/> (the new dance's pose at
        /// song time <paramref name="timeS"/>). Ends itself after ten half-lives.</summary>
        public void Apply(double timeS, Pose pose)
        {
            if (!active) return;
            double t = timeS - start;
            if (t < 0) t = 0;
            if (t > 10.0 * halflife) { active = false; return; }
            for (int j = 0; j < joints; j++)
            {
                var o = rotOffset[j];
                var v = rotVelocity[j];
                var decayed = new Vec3D(Spring.Decay(o.X, v.X, halflife, t), Spring.Decay(o.Y, v.Y, halflife, t),
                                        Spring.Decay(o.Z, v.Z, halflife, t));
                (QuatD.FromRotVec(decayed) * pose.Rotation(j)).Normalized().ToArray(pose.Rotations, j * 4);
            }
            pose.Root[0] += (float)Spring.Decay(rootOffset.X, rootVelocity.X, halflife, t);
            pose.Root[1] += (float)Spring.Decay(rootOffset.Y, rootVelocity.Y, halflife, t);
            pose.Root[2] += (float)Spring.Decay(rootOffset.Z, rootVelocity.Z, halflife, t);
        }
    }

    /// <summary>Global joint transforms from a pose (musicdance.motion.skeleton.forward_kinematics).</summary>
    public static class ForwardKinematics
    {
        public static void Compute(PoseTrack skeleton, Pose pose, QuatD[] globalRotations, Vec3D[] globalPositions)
        {
            for (int j = 0; j < skeleton.NumJoints; j++)
            {
                QuatD local = pose.Rotation(j);
                int parent = skeleton.Parents[j];
                if (parent < 0)
                {
                    globalRotations[j] = local;
                    globalPositions[j] = pose.RootPosition;
                    continue;
                }
                var offset = new Vec3D(skeleton.Offsets[j * 3], skeleton.Offsets[j * 3 + 1], skeleton.Offsets[j * 3 + 2]);
                globalRotations[j] = globalRotations[parent] * local;
                globalPositions[j] = globalPositions[parent] + globalRotations[parent].Rotate(offset);
            }
        }
    }
}
