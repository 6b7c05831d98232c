"""Motion core: skeletons, motions, quaternions and kinematics (Y-up, metres, xyzw)."""

from musicdance.motion.motion import Motion, concatenate, mirror, resample, sample, slice_frames
from musicdance.motion.skeleton import Skeleton, forward_kinematics, mirror_name

__all__ = [
    "Motion",
    "Skeleton",
    "concatenate",
    "forward_kinematics",
    "mirror",
    "mirror_name",
    "resample",
    "sample",
    "slice_frames",
]
