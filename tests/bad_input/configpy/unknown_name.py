APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
MEMORY = MEM
