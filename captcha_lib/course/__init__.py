"""Notebook support, not part of the library's API: where the course's data and runs
live (made when missing), and the figures the notebooks draw more than once.

    from captcha_lib.course import ensure_dataset, ensure_trained, show_images
"""

from .plots import plot_history, plot_timestep_probabilities, show_images
from .workspace import Workspace, ensure_dataset, ensure_standin, ensure_trained, workspace

__all__ = ["Workspace", "ensure_dataset", "ensure_standin", "ensure_trained", "plot_history",
           "plot_timestep_probabilities", "show_images", "workspace"]
