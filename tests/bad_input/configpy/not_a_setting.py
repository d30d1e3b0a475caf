APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
MY_SETTING = 3
