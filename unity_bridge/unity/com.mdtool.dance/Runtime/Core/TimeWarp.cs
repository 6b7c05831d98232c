// Piecewise-linear time warp between matched knots: the slot's beats (and its end) in song time
// against the phrase's counts (and its end) in phrase time. Reproduces
// musicdance.synthesis.timewarp.warp_source_times: linear between knots, and outside them the
// rate of the nearest segment continues.
namespace MdTool.Dance
{
    public static class TimeWarp
    {
        /// <summary>Source (phrase) time for song time <paramref name="t"/>; knots increasing,
        /// at least two.</summary>
        public static double SourceTime(double t, double[] targets, double[] sources)
        {
            int n = targets.Length;
            if (n < 2 || sources.Length != n)
                throw new DanceFormatException("time warping needs at least two matched knots");
            if (t < targets[0])
                return sources[0] + (t - targets[0]) * (sources[1] - sources[0]) / (targets[1] - targets[0]);
            if (t > targets[n - 1])
                return sources[n - 1] + (t - targets[n - 1]) * (sources[n - 1] - sources[n - 2]) / (targets[n - 1] - targets[n - 2]);
            int lo = 0, hi = n - 1;
            while (hi - lo > 1)
            {
                int mid = (lo + hi) / 2;
                if (targets[mid] <= t) lo = mid; else hi = mid;
            }
            if (t == targets[hi]) return sources[hi];
            double span = targets[hi] - targets[lo];
            return sources[lo] + (t - targets[lo]) * (sources[hi] - sources[lo]) / span;
        }
    }
}
