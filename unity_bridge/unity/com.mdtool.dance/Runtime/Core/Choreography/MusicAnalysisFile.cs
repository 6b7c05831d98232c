// A song's analysis written by Python (musicdance.choreo.engine_asset.write_analysis_asset):
// the tests feed the in-engine choreographer the same analysis the Python choreographer sees.
using System;
using MdTool.Dance.Analysis;

namespace MdTool.Dance.Choreography
{
    public static class MusicAnalysisFile
    {
        public static MusicAnalysis Read(string path)
        {
            var a = TaggedArrays.Read(path);
            if (a.Kind != "analysis") throw new DanceAssetException(path + ": not an analysis asset (it holds: " + a.Kind + ")");
            var s = a.Doubles("scalars");
            var m = new MusicAnalysis
            {
                DurationS = s[0], SampleRateHz = (int)s[1], HopLength = (int)s[2], TempoBpm = s[3], Meter = (int)s[4],
                PulseClarity = s[5],
                BeatTimesS = a.Doubles("beat_times_s"), BeatPositions = a.Ints("beat_positions"),
                DownbeatTimesS = a.Doubles("downbeat_times_s"), OnsetTimesS = a.Doubles("onset_times_s"),
                OnsetEnv = a.Floats("onset_env"), Rhythm = a.Floats("rhythm"), MelodyHz = a.Floats("melody_hz"),
            };
            var shape = a.Shape("log_mel_db");
            var flat = a.Floats("log_mel_db");
            m.LogMelDb = new float[shape[0], shape[1]];
            Buffer.BlockCopy(flat, 0, m.LogMelDb, 0, flat.Length * 4);
            var start = a.Doubles("phrase.start_s");
            var end = a.Doubles("phrase.end_s");
            var bars = a.Ints("phrase.n_bars");
            var section = a.Ints("phrase.section");
            var labels = a.Strings("phrase.section_label");
            var indptr = a.Ints("phrase.beat_indptr");
            var beats = a.Doubles("phrase.beat_times_s");
            var energy = a.Doubles("phrase.energy");
            var density = a.Doubles("phrase.onset_density_per_s");
            var tempo = a.Doubles("phrase.tempo_bpm");
            var loudness = a.Doubles("phrase.loudness_db");
            m.Phrases = new MusicPhrase[start.Length];
            for (int p = 0; p < start.Length; p++)
            {
                var b = new double[indptr[p + 1] - indptr[p]];
                Array.Copy(beats, indptr[p], b, 0, b.Length);
                m.Phrases[p] = new MusicPhrase
                {
                    Index = p, StartS = start[p], EndS = end[p], NBars = bars[p], Section = section[p], SectionLabel = labels[p],
                    BeatTimesS = b, Counts = new int[0], Energy = energy[p], OnsetDensityPerS = density[p], TempoBpm = tempo[p],
                    LoudnessDb = loudness[p],
                };
            }
            return m;
        }
    }
}
