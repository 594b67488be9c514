"""Looking inside a network: hooks, feature maps, Grad-CAM, embeddings and similarity search."""

from .embeddings import (
    CACHE,
    EmbeddingCache,
    augmented_views,
    cosine_similarity_matrix,
    extract_embeddings,
    image_key,
    nearest_neighbours,
)
from .feature_maps import feature_maps, top_channels
from .gradcam import GradCAMResult, grad_cam, grad_cam_map, mass_inside, to_display
from .hooks import HookSet, capture, get_layer, hook_count, remove_all_hooks

__all__ = [
    "CACHE",
    "EmbeddingCache",
    "GradCAMResult",
    "HookSet",
    "augmented_views",
    "capture",
    "cosine_similarity_matrix",
    "extract_embeddings",
    "feature_maps",
    "get_layer",
    "grad_cam",
    "grad_cam_map",
    "hook_count",
    "image_key",
    "mass_inside",
    "nearest_neighbours",
    "remove_all_hooks",
    "to_display",
    "top_channels",
]
