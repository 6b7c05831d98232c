"""musicdance: the mdtool SDK that turns music into dance for games.

Layers (lower never import higher): ``audio`` analysis -> phrase scoring -> decoding ->
``motion`` synthesis -> ``io`` export. torch is imported only by training and export code.
"""

from musicdance.errors import MusicDanceError

__version__ = "0.1.0"
__all__ = ["MusicDanceError", "__version__"]
