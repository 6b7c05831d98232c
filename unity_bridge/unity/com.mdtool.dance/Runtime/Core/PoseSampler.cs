// Pose sampling between baked frames, exactly as musicdance.motion.motion.sample (and the
// Python runtime's PoseSampler): clamp the time to the track, slerp each joint's rotation
// between the two frames around it (shortest path) and lerp the root. Every pair of frames is
// prepared once (both quaternions, the angle between them and 1 / sin), so a sample is a lookup,
// two sines per joint and a multiply-add: no allocation per call.
using System;
using System.Collections.Generic;

namespace MdTool.Dance
{
    /// <summary>One sampled pose: root position [3] and local rotations [J * 4] (x, y, z, w),
    /// canonical skeleton (right-handed; see <see cref="Handedness"/>).</summary>
    public sealed class Pose
    {
        public readonly float[] Root = new float[3];
        public readonly float[] Rotations;

        public Pose(int numJoints) { Rotations = new float[numJoints * 4]; }

        public int NumJoints { get { return Rotations.Length / 4; } }

        public QuatD Rotation(int joint) { return QuatD.FromArray(Rotations, joint * 4); }

        public Vec3D RootPosition { get { return new Vec3D(Root[0], Root[1], Root[2]); } }
    }

    public sealed class PoseSampler
    {
        const double MinAngle = 1e-6;
        public readonly PoseTrack Track;
        readonly int joints, pairs;
        readonly double fps;
        readonly float[] a, b, theta, invSin, rootA, rootB;

        public PoseSampler(PoseTrack track)
        {
            Track = track;
            joints = track.NumJoints;
            fps = track.Fps;
            int frames = track.NumFrames;
            float[] rot = track.Rotations, root = track.Roots;
            if (frames == 1)
            {   // one frame: one pair from the frame to itself
                rot = Concat(rot, rot);
                root = Concat(root, root);
                frames = 2;
            }
            pairs = frames - 1;
            a = new float[pairs * joints * 4];
            b = new float[pairs * joints * 4];
            theta = new float[pairs * joints];
            invSin = new float[pairs * joints];
            rootA = new float[pairs * 3];
            rootB = new float[pairs * 3];
            for (int p = 0; p < pairs; p++)
            {
                for (int j = 0; j < joints; j++)
                {
                    int i0 = (p * joints + j) * 4, i1 = ((p + 1) * joints + j) * 4;
                    double dot = 0;
                    for (int c = 0; c < 4; c++) dot += (double)rot[i0 + c] * rot[i1 + c];
                    double sign = dot < 0 ? -1.0 : 1.0;
                    for (int c = 0; c < 4; c++)
                    {
                        a[i0 + c] = rot[i0 + c];
                        b[i0 + c] = (float)(sign * rot[i1 + c]);
                    }
                    double angle = Math.Max(Math.Acos(Math.Min(Math.Abs(dot), 1.0)), MinAngle);
                    theta[p * joints + j] = (float)angle;
                    invSin[p * joints + j] = (float)(1.0 / Math.Sin(angle));
                }
                for (int c = 0; c < 3; c++)
                {
                    rootA[p * 3 + c] = root[p * 3 + c];
                    rootB[p * 3 + c] = root[(p + 1) * 3 + c];
                }
            }
        }

        static float[] Concat(float[] x, float[] y)
        {
            var r = new float[x.Length + y.Length];
            Array.Copy(x, r, x.Length);
            Array.Copy(y, 0, r, x.Length, y.Length);
            return r;
        }

        public int NumJoints { get { return joints; } }

        public Pose NewPose() { return new Pose(joints); }

        /// <summary>The pose at song time <paramref name="timeS"/> (clamped to the track).</summary>
        public void Sample(double timeS, Pose into)
        {
            Sample(timeS, into.Rotations, 0, into.Root, 0);
        }

        /// <summary>Writes J * 4 rotation floats at <paramref name="rotOffset"/> and 3 root floats
        /// at <paramref name="rootOffset"/> (for packed crowd buffers).</summary>
        public void Sample(double timeS, float[] rotations, int rotOffset, float[] root, int rootOffset)
        {
            if (double.IsNaN(timeS) || double.IsInfinity(timeS)) throw new ArgumentException("sample time must be finite");
            double position = timeS * fps;
            if (position < 0) position = 0;
            if (position > pairs) position = pairs;
            int p = (int)Math.Floor(position);
            if (p > pairs - 1) p = pairs - 1;
            double alpha = position - p;
            int q = p * joints;
            for (int j = 0; j < joints; j++)
            {
                double angle = theta[q + j], inv = invSin[q + j];
                float wa = (float)(Math.Sin((1.0 - alpha) * angle) * inv);
                float wb = (float)(Math.Sin(alpha * angle) * inv);
                int s = (q + j) * 4, d = rotOffset + j * 4;
                rotations[d] = wa * a[s] + wb * b[s];
                rotations[d + 1] = wa * a[s + 1] + wb * b[s + 1];
                rotations[d + 2] = wa * a[s + 2] + wb * b[s + 2];
                rotations[d + 3] = wa * a[s + 3] + wb * b[s + 3];
            }
            float fa = (float)alpha;
            for (int c = 0; c < 3; c++)
                root[rootOffset + c] = rootA[p * 3 + c] * (1f - fa) + rootB[p * 3 + c] * fa;
        }
    }

    /// <summary>Many characters, each on one of several dances (same skeleton), sampled into one
    /// packed buffer: character c's rotations at [c * J * 4], its root at [c * 3].</summary>
    public sealed class CrowdSampler
    {
        readonly List<PoseSampler> samplers = new List<PoseSampler>();
        public readonly int NumJoints;

        public CrowdSampler(IList<PoseTrack> tracks)
        {
            if (tracks == null || tracks.Count == 0) throw new ArgumentException("a crowd needs at least one pose track");
            NumJoints = tracks[0].NumJoints;
            foreach (var t in tracks)
            {
                if (t.NumJoints != NumJoints) throw new ArgumentException("all pose tracks of one crowd need the same skeleton");
                samplers.Add(new PoseSampler(t));
            }
        }

        public int NumTracks { get { return samplers.Count; } }

        public void Sample(int[] trackOfCharacter, double[] timeOfCharacter, float[] rotations, float[] roots)
        {
            int n = trackOfCharacter.Length;
            if (timeOfCharacter.Length != n || rotations.Length < n * NumJoints * 4 || roots.Length < n * 3)
                throw new ArgumentException("crowd buffers do not match the number of characters");
            for (int c = 0; c < n; c++)
                samplers[trackOfCharacter[c]].Sample(timeOfCharacter[c], rotations, c * NumJoints * 4, roots, c * 3);
        }
    }
}
