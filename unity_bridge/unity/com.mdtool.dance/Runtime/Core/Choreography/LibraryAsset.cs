// The phrase library as the engine loads it (mdtool library export --unity DIR writes
// library.mdlb): the phrase table, the transition graph, the motions (Q15 rotations) and the
// skeleton, and optionally a bundle's ONNX graph with the bundle column of every phrase.
using System;
using System.Collections.Generic;

namespace MdTool.Dance.Choreography
{
    public sealed class LibraryAsset
    {
        public string LibraryPath;
        public string[] Ids;
        public string[] StyleNames;
        public int[] StyleCode;
        public double[] Energy, TempoBpm, Fps;
        public int[] Meter, NumFrames;
        public int[] CountIndptr;
        public double[] CountFrames;
        /// <summary>Boundary pose features [K * F] (library.phrase.pose_features layout).</summary>
        public float[] StartFeatures, EndFeatures;
        public int FeatureWidth;
        // transition graph over all phrases (CSR by source, targets ascending)
        public int[] GraphIndptr, GraphTargets, GraphGroupSize, GraphTwin, GraphMove;
        public double[] GraphCost, GraphRestMean;
        // skeleton and motions
        public string[] JointNames;
        public int[] Parents;
        public double[] OffsetsM;
        public int[] MotionIndptr;
        public float[] RootM;
        public short[] RotationsQ15;
        // bundle (null without one)
        public byte[] ProbabilitiesOnnx;
        public string BundleManifestJson;
        public int[] BundleColumns;
        public int BundleNumClasses;

        public int NumPhrases { get { return Ids.Length; } }
        public int NumJoints { get { return JointNames.Length; } }
        public bool HasBundle { get { return ProbabilitiesOnnx != null; } }

        public static LibraryAsset Load(string path)
        {
            return FromArrays(TaggedArrays.Read(path), path);
        }

        public static LibraryAsset FromArrays(TaggedArrays a, string where)
        {
            if (a.Kind != "library") throw new DanceAssetException(where + ": not a library asset (it holds: " + a.Kind + ")");
            var lib = new LibraryAsset
            {
                LibraryPath = a.Strings("library_path")[0],
                Ids = a.Strings("ids"),
                StyleNames = a.Strings("styles"),
                StyleCode = a.Ints("style_code"),
                Energy = a.Doubles("energy"),
                TempoBpm = a.Doubles("tempo_bpm"),
                Meter = a.Ints("meter"),
                Fps = a.Doubles("fps"),
                NumFrames = a.Ints("num_frames"),
                CountIndptr = a.Ints("count_indptr"),
                CountFrames = a.Doubles("count_frames"),
                StartFeatures = a.Floats("start_features"),
                EndFeatures = a.Floats("end_features"),
                GraphIndptr = a.Ints("graph.indptr"),
                GraphTargets = a.Ints("graph.targets"),
                GraphCost = a.Doubles("graph.cost"),
                GraphGroupSize = a.Ints("graph.group_size"),
                GraphTwin = a.Ints("graph.twin"),
                GraphMove = a.Ints("graph.move"),
                GraphRestMean = a.Doubles("graph.rest_mean"),
                JointNames = a.Strings("joints"),
                Parents = a.Ints("parents"),
                OffsetsM = a.Doubles("offsets_m"),
                MotionIndptr = a.Ints("motion.indptr"),
                RootM = a.Floats("motion.root_m"),
                RotationsQ15 = a.Shorts("motion.rotations_q15"),
            };
            int k = lib.Ids.Length;
            if (k == 0) throw new DanceAssetException(where + ": the phrase library is empty");
            if (lib.Energy.Length != k || lib.TempoBpm.Length != k || lib.Meter.Length != k || lib.StyleCode.Length != k
                || lib.CountIndptr.Length != k + 1 || lib.GraphIndptr.Length != k + 1 || lib.MotionIndptr.Length != k + 1
                || lib.RootM.Length != lib.MotionIndptr[k] * 3 || lib.RotationsQ15.Length != lib.MotionIndptr[k] * lib.NumJoints * 4)
                throw new DanceAssetException(where + ": the library asset's arrays do not agree in size");
            lib.FeatureWidth = (int)a.Shape("start_features")[1];
            for (int i = 0; i < k; i++) lib.index[lib.Ids[i]] = i;
            if (a.Has("bundle.probabilities_onnx"))
            {
                lib.ProbabilitiesOnnx = a.Bytes("bundle.probabilities_onnx");
                lib.BundleManifestJson = System.Text.Encoding.UTF8.GetString(a.Bytes("bundle.manifest"));
                lib.BundleColumns = a.Ints("bundle.columns");
                lib.BundleNumClasses = a.Ints("bundle.num_classes")[0];
            }
            return lib;
        }

        /// <summary>Phrase frames of the counts of phrase <paramref name="k"/>.</summary>
        public double[] CountsOf(int k)
        {
            var result = new double[CountIndptr[k + 1] - CountIndptr[k]];
            Array.Copy(CountFrames, CountIndptr[k], result, 0, result.Length);
            return result;
        }

        /// <summary>The move a phrase is a variant of (its id without mirror/energy suffixes).</summary>
        public static string MoveOf(string id)
        {
            string[] suffixes = { "-mirror", "-calm", "-medium", "-full" };
            bool changed = true;
            while (changed)
            {
                changed = false;
                foreach (var s in suffixes)
                    if (id.EndsWith(s, StringComparison.Ordinal)) { id = id.Substring(0, id.Length - s.Length); changed = true; }
            }
            return id;
        }

        /// <summary>The motion of phrase k as a PoseTrack (rotations decoded from Q15 and normalised).</summary>
        public PoseTrack Motion(int k)
        {
            int first = MotionIndptr[k], frames = MotionIndptr[k + 1] - first, joints = NumJoints;
            var track = new PoseTrack
            {
                JointNames = JointNames, Parents = Parents, Offsets = OffsetsM, Fps = Fps[k],
                NumFrames = frames, NumJoints = joints,
                Roots = new float[frames * 3], Rotations = new float[frames * joints * 4],
            };
            Array.Copy(RootM, first * 3, track.Roots, 0, frames * 3);
            int at = first * joints * 4;
            for (int i = 0; i < frames * joints; i++)
            {
                double x = RotationsQ15[at + 4 * i] / 32767.0, y = RotationsQ15[at + 4 * i + 1] / 32767.0;
                double z = RotationsQ15[at + 4 * i + 2] / 32767.0, w = RotationsQ15[at + 4 * i + 3] / 32767.0;
                double n = Math.Sqrt(x * x + y * y + z * z + w * w);
                n = n > 0 ? 1.0 / n : 0.0;
                track.Rotations[4 * i] = (float)(x * n); track.Rotations[4 * i + 1] = (float)(y * n);
                track.Rotations[4 * i + 2] = (float)(z * n); track.Rotations[4 * i + 3] = (float)(w * n);
            }
            return track;
        }

        public int JointIndexOf(string name) { return Array.IndexOf(JointNames, name); }

        /// <summary>Row of a phrase id, or -1 (thread-safe: the index is built on load).</summary>
        public int IndexOf(string id)
        {
            int found;
            return index.TryGetValue(id, out found) ? found : -1;
        }

        readonly Dictionary<string, int> index = new Dictionary<string, int>();

        /// <summary>Per phrase, the phrases that lead into it and that it leads into (-1: none),
        /// filled by the renderer (TimelineRenderer.Render) as it meets them.</summary>
        internal readonly Dictionary<int, int[]> ContinuationCache = new Dictionary<int, int[]>();
    }
}
