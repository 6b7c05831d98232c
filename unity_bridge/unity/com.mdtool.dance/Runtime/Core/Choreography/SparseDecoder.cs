// Viterbi over the library's sparse transition graph (musicdance.decode.sparse): listed edges
// per source (CSR) with one weight array per kind of step, and a per-source floor for pairs not
// listed. Same sums and the same tie rule as the Python decoder (the lowest source wins).
using System;
using System.Collections.Generic;

namespace MdTool.Dance.Choreography
{
    public sealed class SparseSteps
    {
        public int[] Indptr, Targets, Sources;
        public List<double[]> Weights = new List<double[]>();
        public List<double[]> LogWeights = new List<double[]>();
        public int[] Kind;      // [N - 1]: the weights used into slot t + 1
        public double[] Floor;  // [K]

        public int NumStates { get { return Indptr.Length - 1; } }

        /// <summary>M(i -> j) into slot t (t >= 1).</summary>
        public double Value(int t, int i, int j)
        {
            int at = Array.BinarySearch(Targets, Indptr[i], Indptr[i + 1] - Indptr[i], j);
            return at >= 0 ? Weights[Kind[t - 1]][at] : Floor[i];
        }
    }

    public static class SparseDecoder
    {
        const double LogFloor = -1e9;

        public static double Log(double v) { return Math.Max(Math.Log(v), LogFloor); }

        /// <summary>The best path [N]; allowed: optional [N, K] mask; beam: states pushed along
        /// their edges per step (all when at least K).</summary>
        public static int[] Viterbi(double[,] emission, SparseSteps steps, bool[,] allowed, int beam)
        {
            int n = emission.GetLength(0), k = emission.GetLength(1);
            if (n == 0 || k == 0) throw new DanceFormatException("nothing to decode: no slots or no phrases");
            if (steps.NumStates != k || steps.Kind.Length != n - 1) throw new DanceFormatException("transition steps do not fit the emission");
            var logE = new double[n, k];
            for (int t = 0; t < n; t++)
                for (int j = 0; j < k; j++)
                {
                    if (!(emission[t, j] >= 0)) throw new DanceFormatException("emission scores must be non-negative numbers (slot " + t + ")");
                    logE[t, j] = allowed != null && !allowed[t, j] ? 2 * LogFloor : Log(emission[t, j]);
                }
            var logFloor = new double[k];
            bool hasFloor = false;
            for (int i = 0; i < k; i++)
            {
                logFloor[i] = steps.Floor[i] > 0 ? Log(steps.Floor[i]) : double.NegativeInfinity;
                hasFloor |= steps.Floor[i] > 0;
            }
            var cumulative = new double[k];
            for (int j = 0; j < k; j++) cumulative[j] = logE[0, j];
            var back = new int[n, k];
            var best = new double[k];
            var from = new int[k];
            var order = new int[k];
            var viaFloor = new double[k];
            var floorValue = new double[k];
            var floorSource = new int[k];
            var listed = new bool[k];
            for (int t = 1; t < n; t++)
            {
                var logW = steps.LogWeights[steps.Kind[t - 1]];
                for (int j = 0; j < k; j++) { best[j] = double.NegativeInfinity; from[j] = k; }
                bool all = beam >= k;
                if (!all) SortBestFirst(cumulative, order);
                for (int s = 0; s < (all ? k : beam); s++)
                {
                    int i = all ? s : order[s];
                    double c = cumulative[i];
                    for (int e = steps.Indptr[i]; e < steps.Indptr[i + 1]; e++)
                    {
                        int j = steps.Targets[e];
                        double v = c + logW[e];
                        if (v > best[j]) { best[j] = v; from[j] = i; }
                        else if (v == best[j] && i < from[j]) from[j] = i;
                    }
                }
                if (hasFloor)
                {
                    for (int i = 0; i < k; i++) viaFloor[i] = cumulative[i] + logFloor[i];
                    FloorStep(viaFloor, steps, order, floorValue, floorSource, listed);
                    for (int j = 0; j < k; j++)
                        if (floorValue[j] > best[j]) { best[j] = floorValue[j]; from[j] = floorSource[j]; }
                }
                for (int j = 0; j < k; j++)
                {
                    back[t, j] = from[j] >= k ? 0 : from[j];
                    cumulative[j] = best[j] + logE[t, j];
                }
            }
            var path = new int[n];
            int arg = 0;
            for (int j = 1; j < k; j++) if (cumulative[j] > cumulative[arg]) arg = j;
            path[n - 1] = arg;
            for (int t = n - 1; t > 0; t--) path[t - 1] = back[t, path[t]];
            return path;
        }

        /// <summary>Indices by decreasing value, ties by index (numpy's stable argsort of -values).</summary>
        static void SortBestFirst(double[] values, int[] order)
        {
            for (int i = 0; i < order.Length; i++) order[i] = i;
            Array.Sort(order, (a, b) =>
            {
                int c = values[b].CompareTo(values[a]);
                return c != 0 ? c : a.CompareTo(b);
            });
        }

        /// <summary>Best score into each target over the pairs not listed (musicdance's _floor_step).</summary>
        static void FloorStep(double[] viaFloor, SparseSteps steps, int[] order, double[] value, int[] source, bool[] listed)
        {
            int k = viaFloor.Length;
            for (int j = 0; j < k; j++) { value[j] = double.NegativeInfinity; source[j] = 0; }
            SortBestFirst(viaFloor, order);
            var waiting = new List<int>(k);
            for (int j = 0; j < k; j++) waiting.Add(j);
            var still = new List<int>(k);
            foreach (int candidate in order)
            {
                if (double.IsInfinity(viaFloor[candidate]) || double.IsNaN(viaFloor[candidate])) break;
                int a = steps.Indptr[candidate], b = steps.Indptr[candidate + 1];
                for (int e = a; e < b; e++) listed[steps.Targets[e]] = true;
                still.Clear();
                foreach (int j in waiting)
                {
                    if (listed[j]) still.Add(j);
                    else { value[j] = viaFloor[candidate]; source[j] = candidate; }
                }
                for (int e = a; e < b; e++) listed[steps.Targets[e]] = false;
                var swap = waiting; waiting = still; still = swap;
                if (waiting.Count == 0) break;
            }
        }
    }
}
