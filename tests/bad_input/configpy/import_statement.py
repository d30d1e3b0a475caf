APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
import os
