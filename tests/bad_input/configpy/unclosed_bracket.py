APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
MACHINE_TYPE = ['m5.xlarge',
