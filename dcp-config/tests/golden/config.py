# Settings of the Batch1 Cell Painting analysis (a DCP config.py)

APP_NAME = 'DistributedCP'     # names of the queue, service and logs derive from it
LOG_GROUP_NAME = APP_NAME

DOCKERHUB_TAG = 'cellprofiler/distributed-cellprofiler:2.2.0_4.2.8'

# AWS GENERAL SETTINGS:
AWS_REGION = 'us-east-1'
AWS_PROFILE = 'default'
SSH_KEY_NAME = 'lab-key.pem'
AWS_BUCKET = 'lab-logs'
SOURCE_BUCKET = 'lab-images'    # '#' inside a comment is fine
WORKSPACE_BUCKET = 'lab-images'
DESTINATION_BUCKET = 'lab-results'
UPLOAD_FLAGS = '--acl bucket-owner-full-control'

# EC2 AND ECS INFORMATION:
ECS_CLUSTER = 'default'
CLUSTER_MACHINES = 4
TASKS_PER_MACHINE = 1
MACHINE_TYPE = ['m5.xlarge',
                'm5a.xlarge']
MACHINE_PRICE = 0.20
EBS_VOL_SIZE = 30
DOWNLOAD_FILES = 'True'
ASSIGN_IP = 'False'

DOCKER_CORES = 4
CPU_SHARES = DOCKER_CORES * 1024
MEMORY = 15000
SECONDS_TO_START = 3*60

SQS_QUEUE_NAME = APP_NAME + 'Queue'
SQS_MESSAGE_VISIBILITY = 10*60
SQS_DEAD_LETTER_QUEUE = 'lab_DeadMessages'
JOB_RETRIES = 3

AUTO_MONITOR = 'True'
CREATE_DASHBOARD = 'False'
CLEAN_DASHBOARD = 'True'

CHECK_IF_DONE_BOOL = 'true'
EXPECTED_NUMBER_FILES = 5
MIN_FILE_SIZE_BYTES = 1
NECESSARY_STRING = '.csv'

ALWAYS_CONTINUE = 'False'

USE_PLUGINS = 'False'
UPDATE_PLUGINS = 'False'
PLUGINS_COMMIT = 'False'
INSTALL_REQUIREMENTS = 'False'
REQUIREMENTS = ''
