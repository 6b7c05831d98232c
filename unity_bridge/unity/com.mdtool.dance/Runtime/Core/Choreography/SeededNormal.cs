// The choreographer's jitter draws the same numbers as numpy: np.random.default_rng(seed)
// .standard_normal(...) is SeedSequence(seed) -> PCG64 (128-bit LCG, XSL-RR output) -> the
// 256-level ziggurat. SeedSequence and PCG64 are small published algorithms written out here;
// the ziggurat's tables are computed once from its two constants (Marsaglia & Tsang 2000:
// r = 3.6541528853610088, area v = r f(r) + the tail beyond r = 0.0049286732339746545). A test checks the draws against numpy.
using System;

namespace MdTool.Dance.Choreography
{
    public sealed class SeededNormal
    {
        const uint InitA = 0x43b0d7e5, MultA = 0x931e8875, InitB = 0x8b51f9dd, MultB = 0x58f38ded;
        const uint MixMultL = 0xca01f9dd, MixMultR = 0x4973f715;
        const int XShift = 16, PoolSize = 4;
        const ulong MulHi = 0x2360ED051FC65DA4UL, MulLo = 0x4385DF649FCCF645UL;
        const double R = 3.6541528853610088, InvR = 0.27366123732975828, V = 0.0049286732339746545;

        static readonly ulong[] Ki = new ulong[256];
        static readonly double[] Wi = new double[256], Fi = new double[256];

        ulong stateHi, stateLo, incHi, incLo;

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

        /// <summary>The generator numpy's default_rng(seed) starts with (seed >= 0).</summary>
        public SeededNormal(long seed)
        {
            if (seed < 0) throw new ArgumentOutOfRangeException("seed", "seeds are non-negative");
            var entropy = seed == 0 ? new uint[] { 0 } : SplitWords((ulong)seed);
            var pool = MixEntropy(entropy);
            var words = new uint[8];
            uint hash = InitB;
            for (int i = 0; i < 8; i++)
            {
                uint value = pool[i % PoolSize];
                value ^= hash;
                hash *= MultB;
                value *= hash;
                value ^= value >> XShift;
                words[i] = value;
            }
            ulong seedHi = words[0] | ((ulong)words[1] << 32), seedLo = words[2] | ((ulong)words[3] << 32);
            ulong seqHi = words[4] | ((ulong)words[5] << 32), seqLo = words[6] | ((ulong)words[7] << 32);
            incHi = (seqHi << 1) | (seqLo >> 63);
            incLo = (seqLo << 1) | 1UL;
            stateHi = 0; stateLo = 0;
            Step();
            Add(ref stateHi, ref stateLo, seedHi, seedLo);
            Step();
        }

        static uint[] SplitWords(ulong value)
        {
            return value >> 32 == 0 ? new[] { (uint)value } : new[] { (uint)value, (uint)(value >> 32) };
        }

        static uint[] MixEntropy(uint[] entropy)
        {
            var pool = new uint[PoolSize];
            uint hash = InitA;
            Func<uint, uint> hashmix = value =>
            {
                value ^= hash;
                hash *= MultA;
                value *= hash;
                value ^= value >> XShift;
                return value;
            };
            Func<uint, uint, uint> mix = (a, b) =>
            {
                uint result = MixMultL * a - MixMultR * b;
                return result ^ (result >> XShift);
            };
            for (int i = 0; i < PoolSize; i++) pool[i] = hashmix(i < entropy.Length ? entropy[i] : 0u);
            for (int src = 0; src < PoolSize; src++)
                for (int dst = 0; dst < PoolSize; dst++)
                    if (src != dst) pool[dst] = mix(pool[dst], hashmix(pool[src]));
            for (int src = PoolSize; src < entropy.Length; src++)
                for (int dst = 0; dst < PoolSize; dst++) pool[dst] = mix(pool[dst], hashmix(entropy[src]));
            return pool;
        }

        static void Add(ref ulong hi, ref ulong lo, ulong bHi, ulong bLo)
        {
            ulong sum = lo + bLo;
            hi = hi + bHi + (sum < lo ? 1UL : 0UL);
            lo = sum;
        }

        static ulong MulHigh(ulong a, ulong b)
        {
            ulong aLo = a & 0xffffffffUL, aHi = a >> 32, bLo = b & 0xffffffffUL, bHi = b >> 32;
            ulong ll = aLo * bLo, lh = aLo * bHi, hl = aHi * bLo, hh = aHi * bHi;
            ulong mid = (ll >> 32) + (lh & 0xffffffffUL) + (hl & 0xffffffffUL);
            return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
        }

        void Step()
        {   // state = state * multiplier + inc (mod 2^128)
            ulong lo = stateLo * MulLo;
            ulong hi = MulHigh(stateLo, MulLo) + stateHi * MulLo + stateLo * MulHi;
            stateHi = hi; stateLo = lo;
            Add(ref stateHi, ref stateLo, incHi, incLo);
        }

        /// <summary>numpy's PCG64 next_uint64.</summary>
        public ulong NextUInt64()
        {
            Step();
            ulong value = stateHi ^ stateLo;
            int rot = (int)(stateHi >> 58);
            return (value >> rot) | (value << ((64 - rot) & 63));
        }

        public double NextDouble() { return (NextUInt64() >> 11) * (1.0 / 9007199254740992.0); }

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
