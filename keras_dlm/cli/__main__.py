import sys

from keras_dlm.cli import main

sys.exit(main())
