# Odoo 18 with the Python packages RBM needs beyond the official image: requirements.txt (the
# NFS-e libraries) and OCA queue_job (requirements-queue-job.txt, without its `odoo` requirement,
# which the image already provides; install the queue_job addon in a database for parallel billing).
FROM odoo:18.0
USER root
COPY requirements.txt requirements-queue-job.txt /tmp/rbm/
RUN pip3 install --no-cache-dir --break-system-packages -r /tmp/rbm/requirements.txt \
    && pip3 install --no-cache-dir --break-system-packages --no-deps -r /tmp/rbm/requirements-queue-job.txt \
    && rm -r /tmp/rbm
USER odoo
