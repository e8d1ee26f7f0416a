"""The profiles' one exception, in a module of its own: a live start catches it without
importing the profile records (start-up time)."""


class ProfileError(Exception):
    """A one-line, human-readable problem with the profiles file or a profile.

    Messages never contain a password, a URI that might hold one, or command output.
    """
