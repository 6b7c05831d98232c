// Choreographs a song inside the game: DanceDirector.Choreograph(clip) reads the AudioClip's
// samples (on the main thread, as Unity requires), then analyses and choreographs them on a
// worker thread (InEngineChoreography) and returns the timeline. The analyzer is the package's
// MusicAnalyzer unless another is set (Analyzer property); the library asset is StreamingAssets/<libraryFile> (mdtool library
// export --unity DIR), its bundle graph runs through onnxruntime (SentisProbabilityModel is the
// Sentis back end: set Model). Bake(timeline) renders the PoseTrack DancePlayer plays.
using System;
using System.IO;
using System.Threading.Tasks;
using MdTool.Dance.Analysis;
using MdTool.Dance.Choreography;
using UnityEngine;

namespace MdTool.Dance
{
    public class DanceDirector : MonoBehaviour
    {
        [Tooltip("Library asset written by `mdtool library export --unity DIR`, under StreamingAssets.")]
        public string libraryFile = "library.mdlb";
        [Tooltip("Score with the bundle's ONNX graph when the asset has one (else the feature scorer).")]
        public bool useBundle = true;
        [Tooltip("Dance style; empty: the style that suits the song best.")]
        public string style = "";
        public long seed = 0;
        public float fps = 30f;

        LibraryAsset library;
        IProbabilityModel model;

        /// <summary>The bundle graph's back end (default: onnxruntime on the asset's graph).</summary>
        public IProbabilityModel Model
        {
            get
            {
                if (model == null && Library.HasBundle) model = new OrtProbabilityModel(Library.ProbabilitiesOnnx, Library.BundleNumClasses);
                return model;
            }
            set { model = value; }
        }

        IMusicAnalyzer analyzer;

        /// <summary>PCM -> MusicAnalysis (default: the package's C# MusicAnalyzer).</summary>
        public IMusicAnalyzer Analyzer
        {
            get { return analyzer ?? (analyzer = new MusicAnalyzer()); }
            set { analyzer = value; }
        }

        /// <summary>The loaded library (loaded on first use unless set).</summary>
        public LibraryAsset Library
        {
            get
            {
                if (library == null) library = LibraryAsset.Load(Path.Combine(Application.streamingAssetsPath, libraryFile));
                return library;
            }
            set { library = value; }
        }

        /// <summary>The dance for <paramref name="clip"/>, computed off the main thread;
        /// <paramref name="progress"/> (0..1) is called on the main thread.</summary>
        public Task<DanceTimeline> Choreograph(AudioClip clip, Action<float> progress = null)
        {
            if (clip == null) throw new ArgumentNullException("clip");
            var samples = new float[clip.samples * clip.channels];
            clip.GetData(samples, 0);
            var pipeline = new InEngineChoreography(Library, Analyzer)
            {
                Model = useBundle ? Model : null,
                Style = string.IsNullOrEmpty(style) ? null : style,
                Seed = seed,
                Fps = fps,
            };
            return pipeline.RunAsync(InEngineChoreography.Downmix(samples, clip.channels), clip.frequency, clip.name, progress);
        }

        /// <summary>The dance of <paramref name="timeline"/> as a PoseTrack for DancePlayer.SetTrack,
        /// rendered off the main thread (the poses the Python runtime would bake).</summary>
        public Task<PoseTrack> Bake(DanceTimeline timeline, Action<float> progress = null)
        {
            return new InEngineChoreography(Library, Analyzer).RenderAsync(timeline, progress);
        }

        void OnDestroy()
        {
            if (model != null) model.Dispose();
            model = null;
        }
    }
}
