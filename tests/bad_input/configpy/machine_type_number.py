APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
MACHINE_TYPE = 5
