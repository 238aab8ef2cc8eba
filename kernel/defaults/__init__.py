"""The kernel's own default plugins, listed in ``notewell.kernel.plugins.DEFAULT_PLUGINS``."""
