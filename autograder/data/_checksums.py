"""Pinned content checksums of the chapter's datasets.

Arrays are hashed as ``sha256(array.tobytes())`` (the container's own hash
depends on zip timestamps); CSV files by their bytes; the spam corpus by the
sorted ``(file name, sha256 of the message)`` pairs, see
:func:`autograder.data._integrity.corpus_digest`.  The full-data values are the
ones published in the offline data kit's README (``../shared/data/README.md``).
"""

MNIST_FULL = {
    "X_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "X_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}

TITANIC_FULL = {
    "train.csv": "14769fb1850e2d26d8e6db0ee49c213878040432827e39b13caaa15603c6598f",
    "test.csv": "d88facfbcf53fe855b1c15290521aee9c61b3a6283631fa953983a95bacf1399",
    "test_labels.csv": "a2a22b5d240612a4eb4b1508110522250f193677748c32454c0f6914f3cc280e",
}

#: Archive name -> (top-level folder, number of messages).
SPAM_ARCHIVES = {
    "easy_ham": ("20030228_easy_ham.tar.bz2", 2500),
    "hard_ham": ("20030228_hard_ham.tar.bz2", 250),
    "spam": ("20030228_spam.tar.bz2", 500),
}

#: The corpus names each message ``NNNNN.<md5 of its bytes>``; this one is
#: misnamed at the source (other loaders whitelist exactly this hash).
SPAM_MISNAMED = {"00230.244a63cd74c81123ef26129453e32c95"}

SPAM_FULL = {
    "easy_ham": "3c675e4e215f313cc6587ddfdf758d47c13907c54a36d836570263d0f4eb6603",
    "hard_ham": "782c784d0dcd0a02bdca7e37bb4f151f5cf361bfd2595ca4f572676db07edf8a",
    "spam": "d5f916758b40760152d1e64b0e0c521c199f8a384e69f2b0e0e99b736f652865",
}

#: The embedded quick-profile sample (printed by scripts/make_sample.py).
SAMPLE = {
    "mnist/X_test": "6dce1f9b390b9c6de6d0b062ab929294e041b6e7a96d1af822a7dab8fca8e686",
    "mnist/X_train": "62edf749fef46a48be6eaebd40de7c9656e5abb621f09a8c198807b140e15ab4",
    "mnist/y_test": "820aed2524e53eb57d4e65ede3ab585b52bd4f77f1d67f2d32533bf1fdd6c72d",
    "mnist/y_train": "a384dee2f83f2b7235bfb1b58d21ceb5e89d9d4a605a43d2768b3a8ee78b2072",
    "spam/easy_ham": "69bb48068ae92f0e78cd115aa4955889dbbe1fe55825db3750b7d0fbc45741e8",
    "spam/hard_ham": "bd2806af7771e176428be0cfb01422794254cd2687e96b38594b4b0feec7d17e",
    "spam/spam": "fb183df5f192efce2f10a199eef2715c736886e356a413275ab0c39d3939deaa",
    "titanic/test.csv": "d2137fbcce0f54ff1661e4e2a51a2bd159b38afaf4fa1fc3a588c894e1a0e314",
    "titanic/test_labels.csv": "ad51152fbad11165ff9178e985fe738ee33fa25ba667f98c32844e394824bd36",
    "titanic/train.csv": "9d4fb1497ac7c4252547a54cf33a25b2ad88d474f9f2dccb46f67dd4a5929bab",
}


def pinned_checksums(profile: str) -> dict[str, str]:
    """Every pinned checksum of ``profile``'s data: the embedded sample's for quick, the data kit's for full."""
    if profile == "quick":
        return dict(SAMPLE)
    return {**MNIST_FULL, **TITANIC_FULL, **SPAM_FULL}
