APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
SQS_QUEUE_NAME = 'abc
