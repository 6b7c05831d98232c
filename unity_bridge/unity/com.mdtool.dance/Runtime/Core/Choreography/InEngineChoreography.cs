// The whole in-game path without Unity types: PCM -> analysis (an IMusicAnalyzer) -> scores
// (features, or the bundle through an IProbabilityModel) -> decoded timeline, off the calling
// thread, with progress. DanceDirector (Runtime/Unity) feeds it an AudioClip's samples.
using System;
using System.Threading;
using System.Threading.Tasks;
using MdTool.Dance.Analysis;

namespace MdTool.Dance.Choreography
{
    public sealed class InEngineChoreography
    {
        public readonly LibraryAsset Library;
        public IMusicAnalyzer Analyzer;
        /// <summary>The bundle's graph (null: the feature scorer alone).</summary>
        public IProbabilityModel Model;
        public double FeatureWeight = BundleScorer.DefaultFeatureWeight;
        public string Style;
        public long Seed;
        public double Fps = 30.0;
        /// <summary>Timings of the last run (analysis, scoring, decoding).</summary>
        public ChoreographyTimings Timings;
        public double AnalysisS;

        public InEngineChoreography(LibraryAsset library, IMusicAnalyzer analyzer)
        {
            if (library == null) throw new ArgumentNullException("library");
            Library = library;
            Analyzer = analyzer;
        }

        /// <summary>Analyse and choreograph on the calling thread; progress gets 0..1.</summary>
        public DanceTimeline Run(float[] monoPcm, int sampleRateHz, string songName, Action<float> progress = null)
        {
            if (Analyzer == null)
                throw new InvalidOperationException("no music analyzer: give an IMusicAnalyzer (MdTool.Dance.Analysis) first");
            if (monoPcm == null || monoPcm.Length == 0) throw new DanceFormatException("the song has no samples");
            if (!(sampleRateHz > 0)) throw new DanceFormatException("the sample rate must be positive");
            Action<float> report = progress ?? (p => { });
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var analysis = Analyzer.Analyze(monoPcm, sampleRateHz, p => report(0.5f * p));
            AnalysisS = clock.Elapsed.TotalSeconds;
            var choreographer = new Choreographer(Library) { Style = Style, Seed = Seed, Fps = Fps };
            IPhraseScorer scorer = Model == null ? null : new BundleScorer(Library, analysis, Model, FeatureWeight);
            var timeline = choreographer.Choreograph(analysis, scorer, songName, p => report(0.5f + 0.5f * p));
            Timings = choreographer.Timings;
            report(1f);
            return timeline;
        }

        /// <summary><see cref="Run"/> on a worker thread; progress is posted to the caller's
        /// synchronization context when it has one (Unity's main thread), else called directly.</summary>
        public Task<DanceTimeline> RunAsync(float[] monoPcm, int sampleRateHz, string songName, Action<float> progress = null,
                                            CancellationToken cancel = default(CancellationToken))
        {
            var context = SynchronizationContext.Current;
            Action<float> report = progress == null ? null
                : context == null ? progress : (Action<float>)(p => context.Post(_ => progress(p), null));
            return Task.Run(() => Run(monoPcm, sampleRateHz, songName, report), cancel);
        }

        /// <summary>The timeline's dance as the PoseTrack DancePlayer plays (TimelineRenderer.Render:
        /// the poses of mdtool choreograph), on a worker thread.</summary>
        public Task<PoseTrack> RenderAsync(DanceTimeline timeline, Action<float> progress = null)
        {
            var context = SynchronizationContext.Current;
            Action<float> report = progress == null ? null
                : context == null ? progress : (Action<float>)(p => context.Post(_ => progress(p), null));
            return Task.Run(() => TimelineRenderer.Render(timeline, Library, null, report));
        }

        /// <summary>Interleaved samples averaged to mono.</summary>
        public static float[] Downmix(float[] interleaved, int channels)
        {
            if (channels <= 1) return interleaved;
            var mono = new float[interleaved.Length / channels];
            for (int i = 0; i < mono.Length; i++)
            {
                float sum = 0;
                for (int c = 0; c < channels; c++) sum += interleaved[i * channels + c];
                mono[i] = sum / channels;
            }
            return mono;
        }
    }
}
