"""Tiny data sets with known answers, for likewise's tests and for tests of user models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from likewise.data.interactions import Interactions

__all__ = ["checkerboard", "corner_cases", "tiny_ratings", "tutorial_ratings"]


def checkerboard(n_users: int = 8, n_items: int = 8, *, held_out: bool = True) -> tuple[Interactions, np.ndarray]:
    """Two blocks of users with identical tastes, one item withheld per user.

    Users 0..n/2-1 like items 0..n/2-1, the others the rest. User u is missing exactly one item of
    their block (item (u + 1) mod block within it); a model that learned the structure ranks that
    item first. Returns (interactions, withheld item id per user).
    """
    if n_users % 2 or n_items % 2:
        raise ValueError("checkerboard needs even sizes")
    half_u, half_i = n_users // 2, n_items // 2
    users, items, withheld = [], [], np.empty(n_users, dtype=np.int64)
    for u in range(n_users):
        block = 0 if u < half_u else 1
        block_items = range(block * half_i, (block + 1) * half_i)
        skip = block * half_i + ((u % half_u) + 1) % half_i
        withheld[u] = skip
        for i in block_items:
            if held_out and i == skip:
                continue
            users.append(u)
            items.append(i)
    data = Interactions.from_arrays(np.array(users), np.array(items), source="checkerboard")
    return data, withheld


def tutorial_ratings() -> Interactions:
    """The three-users, three-movies example of every tutorial (ratings 1-5, one rating missing).

    ========  =========  =======  ======
              Inception  Titanic  Avatar
    ========  =========  =======  ======
    Alice     5          1        4
    Bob       4          2        5
    Carol     1          5        (?)
    ========  =========  =======  ======
    """
    frame = pd.DataFrame(
        {
            "user": ["Alice", "Alice", "Alice", "Bob", "Bob", "Bob", "Carol", "Carol"],
            "item": ["Inception", "Titanic", "Avatar", "Inception", "Titanic", "Avatar", "Inception", "Titanic"],
            "rating": [5, 1, 4, 4, 2, 5, 1, 5],
        }
    )
    return Interactions.from_frame(frame, rating="rating", rating_scale=(1, 5), source="tutorial")


def tiny_ratings() -> Interactions:
    """A 5 users x 6 items explicit table (1-5) used for hand-computed similarities.

    ====  ==  ==  ==  ==  ==  ==
    user  i0  i1  i2  i3  i4  i5
    ====  ==  ==  ==  ==  ==  ==
    u0    5   3   .   1   .   .
    u1    4   .   .   1   .   2
    u2    1   1   .   5   .   4
    u3    1   .   .   4   4   .
    u4    .   1   5   4   .   5
    ====  ==  ==  ==  ==  ==  ==
    """
    table = [
        [5, 3, 0, 1, 0, 0],
        [4, 0, 0, 1, 0, 2],
        [1, 1, 0, 5, 0, 4],
        [1, 0, 0, 4, 4, 0],
        [0, 1, 5, 4, 0, 5],
    ]
    users, items = np.nonzero(np.array(table))
    ratings = np.array(table)[users, items]
    return Interactions.from_arrays(
        np.array([f"u{u}" for u in users]),
        np.array([f"i{i}" for i in items]),
        ratings,
        rating_scale=(1, 5),
        source="tiny_ratings",
    )


def corner_cases() -> Interactions:
    """Explicit data with an empty user row, an empty item column, a user with one rating,
    a constant-rating user and ties; ids are ints, users 0..5 and items 0..5."""
    from likewise.data.idmap import IdMap

    frame = pd.DataFrame(
        {
            "user": [0, 0, 0, 1, 1, 2, 3, 3, 3, 4, 4],
            "item": [0, 1, 2, 0, 2, 3, 0, 1, 3, 1, 2],
            "rating": [4, 4, 4, 5, 1, 3, 2, 5, 5, 3, 3],
        }
    )
    # user 5 has no interactions; item 4 and 5 are in the catalogue but nobody rated them
    return Interactions.from_frame(
        frame,
        rating="rating",
        rating_scale=(1, 5),
        source="corner_cases",
        users=IdMap(range(6), name="user"),
        items=IdMap(range(6), name="item"),
    )
