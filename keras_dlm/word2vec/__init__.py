"""Word2Vec: skip-gram and CBOW with negative sampling, trained by ``model.fit``.

``Vocabulary`` counts a corpus, ``Word2Vec`` (a ``keras.Model``) streams
batches from it with ``make_dataset`` and trains with sparse row updates on
every backend, and ``WordVectors`` answers gensim's ``KeyedVectors`` queries,
evaluates on word-pair and analogy sets, saves and memory-maps its own format
and reads and writes the word2vec C format. ``train`` does it all in one
call.
"""

from keras_dlm.word2vec._data import EpochMismatchWarning, Word2VecDataset
from keras_dlm.word2vec._model import Word2Vec
from keras_dlm.word2vec._train import train
from keras_dlm.word2vec._vectors import WordPairsResult, WordVectors
from keras_dlm.word2vec._vocabulary import Vocabulary

__all__ = [
    "EpochMismatchWarning",
    "Vocabulary",
    "Word2Vec",
    "Word2VecDataset",
    "WordPairsResult",
    "WordVectors",
    "train",
]
