APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
DOCKER_CORES = -4
