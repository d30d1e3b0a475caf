APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
UPLOAD_FLAGS = '--sse-kms-key-id abc'
