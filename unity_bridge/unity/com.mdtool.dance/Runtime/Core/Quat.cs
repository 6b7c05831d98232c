// Unit-quaternion helpers in the SDK's layout (x, y, z, w; right-handed, Y-up) in double
// precision, mirroring musicdance.motion.quat. quat_mul(a, b) applies b first, then a.
using System;

namespace MdTool.Dance
{
    public struct QuatD
    {
        public double X, Y, Z, W;

        public QuatD(double x, double y, double z, double w) { X = x; Y = y; Z = z; W = w; }

        public static readonly QuatD Identity = new QuatD(0, 0, 0, 1);

        public static QuatD operator *(QuatD a, QuatD b)
        {
            return new QuatD(
                a.W * b.X + a.X * b.W + a.Y * b.Z - a.Z * b.Y,
                a.W * b.Y - a.X * b.Z + a.Y * b.W + a.Z * b.X,
                a.W * b.Z + a.X * b.Y - a.Y * b.X + a.Z * b.W,
                a.W * b.W - a.X * b.X - a.Y * b.Y - a.Z * b.Z);
        }

        public QuatD Conjugate() { return new QuatD(-X, -Y, -Z, W); }

        public QuatD Normalized()
        {
            double n = Math.Sqrt(X * X + Y * Y + Z * Z + W * W);
            if (n < 1e-12) return Identity;
            return new QuatD(X / n, Y / n, Z / n, W / n);
        }

        public Vec3D Rotate(Vec3D v)
        {
            // v + w * t + u x t with t = 2 u x v (as quat_mul_vec3)
            var u = new Vec3D(X, Y, Z);
            var t = Vec3D.Cross(u, v) * 2.0;
            return v + t * W + Vec3D.Cross(u, t);
        }

        /// <summary>Rotation vector (axis times angle, radians) of the shortest rotation.</summary>
        public Vec3D ToRotVec()
        {
            double x = X, y = Y, z = Z, w = W;
            if (w < 0) { x = -x; y = -y; z = -z; w = -w; }
            double n = Math.Sqrt(x * x + y * y + z * z);
            double angle = 2.0 * Math.Atan2(n, w);
            double scale = n > 1e-12 ? angle / n : 2.0 / Math.Max(w, 1e-12);
            return new Vec3D(x * scale, y * scale, z * scale);
        }

        public static QuatD FromRotVec(Vec3D v)
        {
            double angle = v.Length;
            double half = 0.5 * angle;
            double s = angle > 1e-12 ? Math.Sin(half) / angle : 0.5 - angle * angle / 48.0;
            return new QuatD(v.X * s, v.Y * s, v.Z * s, Math.Cos(half));
        }

        public static QuatD FromArray(float[] a, int offset)
        {
            return new QuatD(a[offset], a[offset + 1], a[offset + 2], a[offset + 3]);
        }

        public void ToArray(float[] a, int offset)
        {
            a[offset] = (float)X; a[offset + 1] = (float)Y; a[offset + 2] = (float)Z; a[offset + 3] = (float)W;
        }
    }

    public struct Vec3D
    {
        public double X, Y, Z;

        public Vec3D(double x, double y, double z) { X = x; Y = y; Z = z; }

        public double Length { get { return Math.Sqrt(X * X + Y * Y + Z * Z); } }

        public static Vec3D operator +(Vec3D a, Vec3D b) { return new Vec3D(a.X + b.X, a.Y + b.Y, a.Z + b.Z); }
        public static Vec3D operator -(Vec3D a, Vec3D b) { return new Vec3D(a.X - b.X, a.Y - b.Y, a.Z - b.Z); }
        public static Vec3D operator *(Vec3D a, double s) { return new Vec3D(a.X * s, a.Y * s, a.Z * s); }

        public static Vec3D Cross(Vec3D a, Vec3D b)
        {
            return new Vec3D(a.Y * b.Z - a.Z * b.Y, a.Z * b.X - a.X * b.Z, a.X * b.Y - a.Y * b.X);
        }
    }

    /// <summary>The SDK is right-handed (characters face +Z, their left side towards +X); Unity
    /// is left-handed (left side towards -X). Converting mirrors X, as glTF importers do.</summary>
    public static class Handedness
    {
        public static Vec3D PositionToUnity(Vec3D p) { return new Vec3D(-p.X, p.Y, p.Z); }

        public static QuatD RotationToUnity(QuatD q) { return new QuatD(q.X, -q.Y, -q.Z, q.W); }
    }
}
