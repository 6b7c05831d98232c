// The editing API a game's UI calls: choreograph a song, list alternatives for a slot, replace
// a slot (the player switches to the re-rendered dance with a blend), undo. Talks to the
// service through MdToolClient; keeps the current timeline's JSON to send back (stateless API).
// With a DanceDirector set, the same calls run in the engine instead (no service): the
// director choreographs and bakes, TimelineEditing ranks and replaces (docs/engine.md).
using System;
using System.Collections;
using System.Collections.Generic;
using System.Threading.Tasks;
using MdTool.Dance.Choreography;
using UnityEngine;

namespace MdTool.Dance
{
    public class DanceEditor : MonoBehaviour
    {
        public string serviceUrl = "http://127.0.0.1:8765";
        [Tooltip("Only when the service was started with a token.")]
        public string token = "";
        public DancePlayer player;
        [Tooltip("In-engine editing without the service: choreograph, rank, replace and bake with this director.")]
        public DanceDirector director;

        readonly Stack<KeyValuePair<string, PoseTrack>> undo = new Stack<KeyValuePair<string, PoseTrack>>();
        MdToolClient client;

        public DanceTimeline Timeline { get; private set; }
        public string TimelineJson { get; private set; }
        public event Action<DanceTimeline> TimelineChanged;

        public MdToolClient Client
        {
            get
            {
                if (client == null) client = new MdToolClient(serviceUrl, string.IsNullOrEmpty(token) ? null : token);
                return client;
            }
        }

        /// <summary>Choreograph a clip, bake it and start playing it on the player.</summary>
        public IEnumerator Choreograph(AudioClip clip, ChoreographOptions options, Action<string> failed)
        {
            if (director != null)
            {
                director.seed = options.Seed;
                director.style = options.Style;
                director.fps = (float)options.Fps;
                Task<DanceTimeline> choreographed;
                try { choreographed = director.Choreograph(clip); }
                catch (Exception e) { failed(e.Message); yield break; }
                while (!choreographed.IsCompleted) yield return null;
                if (choreographed.IsFaulted) { failed(Message(choreographed.Exception)); yield break; }
                yield return AdoptInEngine(choreographed.Result, failed, false);
                undo.Clear();
                yield break;
            }
            string error = null;
            DanceTimeline made = null;
            string json = null;
            yield return Client.Choreograph(clip, options, (t, j) => { made = t; json = j; }, e => error = e);
            if (error != null) { failed(error); yield break; }
            yield return Adopt(made, json, failed, false);
            undo.Clear();
        }

        /// <summary>Ranked phrases for a slot of the current timeline.</summary>
        public IEnumerator Alternatives(int slot, int topK, Action<List<AlternativeRow>> done, Action<string> failed)
        {
            if (!CheckSlot(slot, failed)) yield break;
            if (director != null)
            {
                List<SlotAlternative> ranked;
                try { ranked = TimelineEditing.Alternatives(Timeline, director.Library, slot, topK); }
                catch (Exception e) { failed(e.Message); yield break; }
                var rows = new List<AlternativeRow>();
                foreach (var r in ranked)
                    rows.Add(new AlternativeRow { PhraseId = r.PhraseId, Score = r.Score, Emission = r.Emission, PriorIn = r.PriorIn,
                                                  PriorOut = r.PriorOut, Current = r.Current });
                done(rows);
                yield break;
            }
            yield return Client.Alternatives(TimelineJson, slot, topK, done, failed);
        }

        /// <summary>Put a phrase in a slot; the player blends into the edited dance.</summary>
        public IEnumerator Replace(int slot, string phraseId, Action<string> failed)
        {
            if (!CheckSlot(slot, failed)) yield break;
            if (director != null)
            {
                DanceTimeline replaced;
                try { replaced = TimelineEditing.Replace(Timeline, director.Library, slot, phraseId); }
                catch (Exception e) { failed(e.Message); yield break; }
                var before = new KeyValuePair<string, PoseTrack>(TimelineJson, player != null ? player.Track : null);
                bool adopted = false;
                yield return AdoptInEngine(replaced, e => failed(e), true, () => adopted = true);
                if (adopted) undo.Push(before);
                yield break;
            }
            string error = null;
            DanceTimeline edited = null;
            string json = null;
            yield return Client.Replace(TimelineJson, slot, phraseId, (t, j) => { edited = t; json = j; }, e => error = e);
            if (error != null) { failed(error); yield break; }
            undo.Push(new KeyValuePair<string, PoseTrack>(TimelineJson, player != null ? player.Track : null));
            yield return Adopt(edited, json, failed, true);
        }

        /// <summary>Back to the timeline before the last replace (no service call).</summary>
        public bool Undo()
        {
            if (undo.Count == 0) return false;
            var previous = undo.Pop();
            Timeline = DanceTimeline.Parse(previous.Key);
            TimelineJson = previous.Key;
            if (player != null && previous.Value != null) player.SetTrack(previous.Value, true);
            if (TimelineChanged != null) TimelineChanged(Timeline);
            return true;
        }

        bool CheckSlot(int slot, Action<string> failed)
        {
            if (Timeline == null) { failed("no timeline yet: choreograph a song first"); return false; }
            if (slot < 0 || slot >= Timeline.Slots.Count)
            {
                failed("slot " + slot + " does not exist (the timeline has " + Timeline.Slots.Count + ")");
                return false;
            }
            return true;
        }

        IEnumerator AdoptInEngine(DanceTimeline timeline, Action<string> failed, bool blendSwitch, Action adopted = null)
        {
            var baked = director.Bake(timeline);
            while (!baked.IsCompleted) yield return null;
            if (baked.IsFaulted) { failed(Message(baked.Exception)); yield break; }
            Timeline = timeline;
            TimelineJson = timeline.ToJson();
            if (player != null) player.SetTrack(baked.Result, blendSwitch);
            if (adopted != null) adopted();
            if (TimelineChanged != null) TimelineChanged(Timeline);
        }

        static string Message(AggregateException error)
        {
            return error == null ? "failed" : error.GetBaseException().Message;
        }

        IEnumerator Adopt(DanceTimeline timeline, string json, Action<string> failed, bool blendSwitch)
        {
            string error = null;
            PoseTrack track = null;
            yield return Client.Bake(json, t => track = t, e => error = e);
            if (error != null) { failed(error); yield break; }
            Timeline = timeline;
            TimelineJson = json;
            if (player != null) player.SetTrack(track, blendSwitch);
            if (TimelineChanged != null) TimelineChanged(Timeline);
        }
    }
}
