APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
APP_NAME = 'Again'
