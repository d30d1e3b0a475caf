APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
AWS_REGION = os.environ
