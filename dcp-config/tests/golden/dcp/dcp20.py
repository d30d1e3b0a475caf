# A lab's config.py from DCP 2.0 (2021): the old REQUIREMENTS_FILE name, the dead-letter
# queue as an ARN, 'False' for "no bucket", upload flags for a collaborator's bucket, and
# no JOB_RETRIES, CREATE_DASHBOARD, CLEAN_DASHBOARD, AUTO_MONITOR or ASSIGN_IP.

APP_NAME = 'Screen2021'
LOG_GROUP_NAME = APP_NAME

DOCKERHUB_TAG = 'cellprofiler/distributed-cellprofiler:2.0.0_4.1.3'

AWS_REGION = 'us-east-1'
AWS_PROFILE = 'lab'
SSH_KEY_NAME = 'screen.pem'
AWS_BUCKET = 'screen-logs'
SOURCE_BUCKET = 'collaborator-images'
WORKSPACE_BUCKET = 'False'
DESTINATION_BUCKET = 'collaborator-images'
UPLOAD_FLAGS = '--acl bucket-owner-full-control --metadata-directive REPLACE'

ECS_CLUSTER = 'screen'
CLUSTER_MACHINES = 10
TASKS_PER_MACHINE = 1
MACHINE_TYPE = ['c5.xlarge', 'm5.xlarge']
MACHINE_PRICE = 0.15
EBS_VOL_SIZE = 30
DOWNLOAD_FILES = 'True'

DOCKER_CORES = 4
CPU_SHARES = DOCKER_CORES * 1024
MEMORY = 15000
SECONDS_TO_START = 3*60

SQS_QUEUE_NAME = APP_NAME + 'Queue'
SQS_MESSAGE_VISIBILITY = 10*60
SQS_DEAD_LETTER_QUEUE = 'arn:aws:sqs:us-east-1:222222200000:Screen2021_DeadMessages'

CHECK_IF_DONE_BOOL = 'False'
EXPECTED_NUMBER_FILES = 7
MIN_FILE_SIZE_BYTES = 1
NECESSARY_STRING = ''

USE_PLUGINS = 'True'
UPDATE_PLUGINS = 'False'
PLUGINS_COMMIT = 'v4.2.1'
INSTALL_REQUIREMENTS = 'True'
REQUIREMENTS_FILE = 'requirements-cellpose.txt'
TASK_ROLE_ARN = 'arn:aws:iam::111111100000:role/ecsTaskRole'
