APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
DOWNLOAD_FILES = 'Sometimes'
