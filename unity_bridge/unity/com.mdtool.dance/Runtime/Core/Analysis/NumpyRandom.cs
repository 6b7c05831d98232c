// numpy's default generator (np.random.default_rng(seed): SeedSequence + PCG64) for the draws the
// structure stage's k-means makes (integers(n), random(), choice(n, p)), so that the C# k-means
// starts from the same centres as the Python one and finds the same sections.
using System;

namespace MdTool.Dance.Analysis
{
    /// <summary>PCG64 seeded like numpy.random.default_rng(seed) (non-negative int seeds).</summary>
    public sealed class NumpyRandom
    {
        // 128-bit LCG state and increment as (high, low) 64-bit halves
        ulong _stateHi, _stateLo, _incHi, _incLo;
        bool _hasUint32;
        uint _uinteger;
        const ulong MulHi = 0x2360ed051fc65da4UL, MulLo = 0x4385df649fccf645UL;

        public NumpyRandom(long seed)
        {
            if (seed < 0) throw new ArgumentOutOfRangeException("seed");
            uint[] words = SeedSequenceState(seed, 8);
            ulong s0 = words[0] | ((ulong)words[1] << 32), s1 = words[2] | ((ulong)words[3] << 32);
            ulong i0 = words[4] | ((ulong)words[5] << 32), i1 = words[6] | ((ulong)words[7] << 32);
            // pcg_setseq_128_srandom_r(initstate = (s0, s1), initseq = (i0, i1))
            _incHi = (i0 << 1) | (i1 >> 63);
            _incLo = (i1 << 1) | 1UL;
            _stateHi = 0; _stateLo = 0;
            Step();
            Add(ref _stateHi, ref _stateLo, s0, s1);
            Step();
        }

        static uint[] SeedSequenceState(long seed, int nWords)
        {
            const uint InitA = 0x43b0d7e5, MultA = 0x931e8875, InitB = 0x8b51f9dd, MultB = 0x58f38ded;
            const uint MixL = 0xca01f9dd, MixR = 0x4973f715;
            ulong v = (ulong)seed;
            var entropy = new System.Collections.Generic.List<uint>();
            do { entropy.Add((uint)(v & 0xffffffffUL)); v >>= 32; } while (v > 0);
            var pool = new uint[4];
            uint hashConst = InitA;
            Func<uint, uint> hashmix = value =>
            {
                value ^= hashConst;
                hashConst *= MultA;
                value *= hashConst;
                value ^= value >> 16;
                return value;
            };
            Func<uint, uint, uint> mix = (x, y) =>
            {
                uint r = MixL * x - MixR * y;
                return r ^ (r >> 16);
            };
            for (int i = 0; i < pool.Length; i++) pool[i] = hashmix(i < entropy.Count ? entropy[i] : 0u);
            for (int src = 0; src < pool.Length; src++)
                for (int dst = 0; dst < pool.Length; dst++)
                    if (src != dst) pool[dst] = mix(pool[dst], hashmix(pool[src]));
            for (int src = pool.Length; src < entropy.Count; src++)
                for (int dst = 0; dst < pool.Length; dst++)
                    pool[dst] = mix(pool[dst], hashmix(entropy[src]));
            var state = new uint[nWords];
            uint hc = InitB;
            for (int i = 0; i < nWords; i++)
            {
                uint d = pool[i % pool.Length];
                d ^= hc;
                hc *= MultB;
                d *= hc;
                d ^= d >> 16;
                state[i] = d;
            }
            return state;
        }

        static void Add(ref ulong hi, ref ulong lo, ulong bHi, ulong bLo)
        {
            ulong l = lo + bLo;
            hi = hi + bHi + (l < lo ? 1UL : 0UL);
            lo = l;
        }

        static void Mul64(ulong a, ulong b, out ulong hi, out ulong lo)
        {
            ulong aL = a & 0xffffffffUL, aH = a >> 32, bL = b & 0xffffffffUL, bH = b >> 32;
            ulong ll = aL * bL, lh = aL * bH, hl = aH * bL, hh = aH * bH;
            ulong mid = (ll >> 32) + (lh & 0xffffffffUL) + (hl & 0xffffffffUL);
            lo = (mid << 32) | (ll & 0xffffffffUL);
            hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
        }

        void Step()
        {
            // state = state * MUL + inc (mod 2^128)
            ulong hi, lo;
            Mul64(_stateLo, MulLo, out hi, out lo);
            hi += _stateHi * MulLo + _stateLo * MulHi;
            _stateHi = hi; _stateLo = lo;
            Add(ref _stateHi, ref _stateLo, _incHi, _incLo);
        }

        /// <summary>Next 64 random bits (pcg64 XSL-RR).</summary>
        public ulong NextUInt64()
        {
            Step();
            ulong x = _stateHi ^ _stateLo;
            int rot = (int)(_stateHi >> 58);
            return (x >> rot) | (x << ((64 - rot) & 63));
        }

        uint NextUInt32()
        {
            if (_hasUint32) { _hasUint32 = false; return _uinteger; }
            ulong next = NextUInt64();
            _hasUint32 = true;
            _uinteger = (uint)(next >> 32);
            return (uint)(next & 0xffffffffUL);
        }

        /// <summary>A double in [0, 1) (Generator.random()).</summary>
        public double NextDouble() { return (NextUInt64() >> 11) * (1.0 / 9007199254740992.0); }

        /// <summary>An integer in [0, n) (Generator.integers(n), n below 2^32).</summary>
        public int Integers(int n)
        {
            if (n <= 0) throw new ArgumentOutOfRangeException("n");
            uint rng = (uint)(n - 1);
            if (rng == 0) return 0;
            ulong rngExcl = (ulong)rng + 1;
            ulong m = NextUInt32() * rngExcl;
            uint leftover = (uint)(m & 0xffffffffUL);
            if (leftover < rngExcl)
            {
                uint threshold = (uint)((uint.MaxValue - rng) % rngExcl);
                while (leftover < threshold)
                {
                    m = NextUInt32() * rngExcl;
                    leftover = (uint)(m & 0xffffffffUL);
                }
            }
            return (int)(m >> 32);
        }

        /// <summary>An index drawn with probabilities p (Generator.choice(len(p), p=p)).</summary>
        public int Choice(double[] p)
        {
            var cdf = new double[p.Length];
            double acc = 0;
            for (int i = 0; i < p.Length; i++) { acc += p[i]; cdf[i] = acc; }
            double last = cdf[p.Length - 1];
            for (int i = 0; i < p.Length; i++) cdf[i] /= last;
            double u = NextDouble();
            // searchsorted(side="right"): first index with cdf > u
            int lo = 0, hi = p.Length;
            while (lo < hi)
            {
                int mid = (lo + hi) >> 1;
                if (cdf[mid] <= u) lo = mid + 1; else hi = mid;
            }
            return lo;
        }
    }
}
