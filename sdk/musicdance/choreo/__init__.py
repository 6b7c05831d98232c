"""The choreographer: music phrases in, a timeline of dance phrases and one animation out.

Flow: ``plan_slots`` (one slot per eight of the music) -> an emission model scores every
library phrase for every slot -> ``decode_timeline`` (Viterbi or greedy with the Markov prior
and choreography constraints) -> ``render_timeline`` (time warp onto the beats, inertialized
joins) -> export. After an edit (``replace_phrase``), ``rerender.rerender`` re-renders only what
changed.
"""
