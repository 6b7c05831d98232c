// The choreographer's jitter draws the same numbers as numpy: np.random.default_rng(seed)
// .standard_normal(...) is SeedSequence(seed) -> PCG64 (128-bit LCG, XSL-RR output) -> the
// 256-level ziggurat. SeedSequence and PCG64 are the analysis's NumpyRandom (which the
// structure stage's k-means also draws from); the ziggurat's tables are computed once from its
// two constants (Marsaglia & Tsang 2000: r = 3.6541528853610088, area v = r f(r) + the tail
// beyond r = 0.0049286732339746545). A test checks the draws against numpy.
using System;
using MdTool.Dance.Analysis;

namespace MdTool.Dance.Choreography
{
    public sealed class SeededNormal
    {
        const double R = 3.6541528853610088, InvR = 0.27366123732975828, V = 0.0049286732339746545;

        static readonly ulong[] Ki = new ulong[256];
        static readonly double[] Wi = new double[256], Fi = new double[256];

        static SeededNormal()
        {
            const double two52 = 4503599627370496.0;
            double f = Math.Exp(-0.5 * R * R);
            var x = new double[256];
            x[255] = R;
            for (int i = 255; i >= 2; i--) x[i - 1] = Math.Sqrt(-2.0 * Math.Log(V / x[i] + Math.Exp(-0.5 * x[i] * x[i])));
            x[0] = 0;
            Ki[0] = (ulong)(two52 * R * f / V);
            Wi[0] = V / f / two52;
            Fi[0] = 1.0;
            for (int i = 1; i < 256; i++)
            {
                Ki[i] = (ulong)(two52 * x[i - 1] / x[i]);
                Wi[i] = x[i] / two52;
                Fi[i] = Math.Exp(-0.5 * x[i] * x[i]);
            }
        }

        readonly NumpyRandom bits;

        /// <summary>The generator numpy's default_rng(seed) starts with (seed >= 0).</summary>
        public SeededNormal(long seed)
        {
            if (seed < 0) throw new ArgumentOutOfRangeException("seed", "seeds are non-negative");
            bits = new NumpyRandom(seed);
        }

        /// <summary>numpy's PCG64 next_uint64.</summary>
        public ulong NextUInt64() { return bits.NextUInt64(); }

        public double NextDouble() { return bits.NextDouble(); }

        /// <summary>numpy's Generator.standard_normal, one draw.</summary>
        public double Next()
        {
            while (true)
            {
                ulong r = NextUInt64();
                int idx = (int)(r & 0xff);
                r >>= 8;
                bool negative = (r & 1) != 0;
                ulong rabs = (r >> 1) & 0x000fffffffffffffUL;
                double x = rabs * Wi[idx];
                if (negative) x = -x;
                if (rabs < Ki[idx]) return x;
                if (idx == 0)
                {
                    while (true)
                    {
                        double xx = -InvR * Log1p(-NextDouble());
                        double yy = -Log1p(-NextDouble());
                        if (yy + yy > xx * xx) return ((rabs >> 8) & 1) != 0 ? -(R + xx) : R + xx;
                    }
                }
                if ((Fi[idx - 1] - Fi[idx]) * NextDouble() + Fi[idx] < Math.Exp(-0.5 * x * x)) return x;
            }
        }

        static double Log1p(double x)
        {
            double u = 1.0 + x;
            return u == 1.0 ? x : Math.Log(u) * x / (u - 1.0);
        }

        /// <summary>count draws in order (numpy fills arrays row-major).</summary>
        public void Fill(double[] values)
        {
            for (int i = 0; i < values.Length; i++) values[i] = Next();
        }
    }
}
