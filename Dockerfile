# Odoo 18 with the Python packages RBM needs beyond the official image (requirements.txt).
FROM odoo:18.0
USER root
COPY requirements.txt /tmp/rbm-requirements.txt
RUN pip3 install --no-cache-dir --break-system-packages -r /tmp/rbm-requirements.txt \
    && rm /tmp/rbm-requirements.txt
USER odoo
