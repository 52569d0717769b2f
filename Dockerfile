# One image for every process of the plant; the default command is the web server.
#   docker build -t open-mes .
#   docker run --rm -e DATABASE_URL=... -e SECRET_KEY=... open-mes python manage.py migrate --noinput
#   docker run -p 8000:8000 -e DATABASE_URL=postgresql://mes@db:5432/mes -e REDIS_URL=redis://redis:6379/0 \
#       -e SECRET_KEY=... -e ALLOWED_HOSTS=mes.example.com open-mes
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MES_VAR_DIR=/app/var

WORKDIR /app

# Dependencies in their own layer, rebuilt only when the lock changes: exactly the versions in
# requirements.lock (generated from pyproject.toml by `make lock`), each checked against its hash,
# so every build of a release installs the same, reviewed code. The project itself is not installed
# into site-packages: it runs from /app, next to its templates/, static/ and locale/ (which the
# settings find relative to the code).
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock && pip check

COPY . .

# Static files are collected into the image and served by WhiteNoise. The throwaway key only
# stops the settings from generating a real one into the image; run with your own SECRET_KEY.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q mes erp_sync shopfloor

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin mes \
    && chown -R mes:mes /app/var
USER mes

EXPOSE 8000
# gunicorn reads its worker count from WEB_CONCURRENCY. DATABASE_URL, REDIS_URL, SECRET_KEY,
# ALLOWED_HOSTS and the rest come from the environment at run time (see README.md).
ENV WEB_CONCURRENCY=2
CMD ["gunicorn", "mes.wsgi:application", "--bind", "0.0.0.0:8000", "--threads", "4", "--access-logfile", "-"]
