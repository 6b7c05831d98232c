"""Reading and writing motion files (BVH, glTF/GLB); every writer is atomic."""
