APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
EBS_VOL_SIZE = 10
