# A lab's config.py from DCP 1.x (2017-2020): no SOURCE_BUCKET, DESTINATION_BUCKET,
# UPLOAD_FLAGS, JOB_RETRIES, dashboards, monitor, ASSIGN_IP or ALWAYS_CONTINUE yet;
# DOCKER_BASE_SIZE still set by hand; the dead-letter queue as a full ARN.

APP_NAME = 'Plate2017'

DOCKERHUB_TAG = 'cellprofiler/distributed-cellprofiler:1.2.0_3.1.8'

AWS_REGION = 'us-east-1'
AWS_PROFILE = 'default'
SSH_KEY_NAME = 'lab-2017.pem'
AWS_BUCKET = 'lab-2017-data'

ECS_CLUSTER = 'default'
CLUSTER_MACHINES = 2
TASKS_PER_MACHINE = 2
MACHINE_TYPE = ['m4.xlarge']
MACHINE_PRICE = 0.10
EBS_VOL_SIZE = 40                       # In GB.
DOCKER_BASE_SIZE = 15                   # In GB; default is 10.
                                        # EBS_VOL_SIZE should be >= DOCKER_BASE_SIZE * TASKS_PER_MACHINE

DOCKER_CORES = 2
CPU_SHARES = DOCKER_CORES * 1024
MEMORY = 7500
SECONDS_TO_START = 0*60

SQS_QUEUE_NAME = APP_NAME + 'Queue'
SQS_MESSAGE_VISIBILITY = 20*60
SQS_DEAD_LETTER_QUEUE = 'arn:aws:sqs:us-west-2:111111100000:Plate2017DeadMessages'

LOG_GROUP_NAME = APP_NAME

CHECK_IF_DONE_BOOL = 'True'
EXPECTED_NUMBER_FILES = 5
MIN_FILE_SIZE_BYTES = 1
NECESSARY_STRING = ''

USE_PLUGINS = 'False'
