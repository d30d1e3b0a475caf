APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
NECESSARY_STRING = 'þ'
