"""Scoring catalogs too large for one machine: Spark, through MLflow's own ``spark_udf``.

``prodcat predict --engine spark --input FILE --output FOLDER`` (``pip install -e .[spark]`` and
Java). Spark's master comes from ``spark-submit`` or ``PYSPARK_SUBMIT_ARGS`` (for example
``--master local[4] pyspark-shell``), else this machine's cores. Each Spark task loads the model
once and hands it Arrow batches smaller than one HTTP request, since the UDF goes through the
served model's own checks; rows that cannot be scored are marked in Spark before that, with the
same ``error`` as in-process scoring, so one bad row never fails a task. The output is a folder
of part files in the input's partition order, with the input's columns and ``category``,
``probability``, ``needs_review`` and ``error``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prodcat.core.errors import UserError
from prodcat.serving.batch import renamed_inputs
from prodcat.serving.requests import MAX_TEXT_CHARS, MAX_TEXTS_PER_REQUEST, TEXT_FIELD

logger = logging.getLogger(__name__)

RESULT_TYPE = "category string, probability double, needs_review boolean"
ARROW_BATCH_ROWS = min(4096, MAX_TEXTS_PER_REQUEST)
PLACEHOLDER = "-"  # what the UDF is given for a row that cannot be scored; its answer is dropped


def spark_session(app_name: str = "prodcat-predict") -> Any:  # -> pyspark.sql.SparkSession
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise UserError(
            "--engine spark needs PySpark: `pip install -e .[spark]` (and Java 17)"
        ) from error
    spark = SparkSession.builder.appName(app_name).getOrCreate()
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH_ROWS))
    return spark


def read_table(spark: Any, path: Path) -> Any:
    """A Spark DataFrame of a CSV (every cell text, as written) or Parquet file or folder.

    A CSV cannot tell a missing cell from an empty one, and Spark reads both as null: they
    become empty text, as in-process reading has them.
    """
    from prodcat.io.tables import table_format

    if table_format(path) == "parquet":
        return spark.read.parquet(str(path))
    frame = (
        spark.read.option("header", True)
        .option("multiLine", True)
        .option("escape", '"')
        .option("encoding", "UTF-8")
        .csv(str(path))
    )
    return frame.na.fill("")


def row_error_column(frame: Any, text_column: str) -> Any:
    """The ``error`` of each row, as Spark SQL: the rules of ``serving.batch.row_error``."""
    from pyspark.sql import functions as sql
    from pyspark.sql.types import StringType

    text = sql.col(f"`{text_column}`")
    kind = frame.schema[text_column].dataType
    if not isinstance(kind, StringType):
        return sql.when(text.isNull(), sql.lit("missing text")).otherwise(
            sql.lit(f"not text ({kind.simpleString()})")
        )
    return (
        sql.when(text.isNull(), sql.lit("missing text"))
        .when(text.rlike(r"(?U)^\s*$"), sql.lit("blank text"))
        .when(
            sql.length(text) > MAX_TEXT_CHARS,
            sql.concat(
                sql.length(text).cast("string"),
                sql.lit(f" characters; the limit is {MAX_TEXT_CHARS}"),
            ),
        )
        .otherwise(sql.lit(None).cast("string"))
    )


def scored_frame(spark: Any, frame: Any, model_uri: str, text_column: str) -> Any:
    """``frame`` with the prediction columns, row for row."""
    import mlflow
    from pyspark.sql import functions as sql

    predict = mlflow.pyfunc.spark_udf(
        spark, model_uri, result_type=RESULT_TYPE, env_manager="local"
    )
    error = row_error_column(frame, text_column)
    safe_text = sql.when(error.isNull(), sql.col(f"`{text_column}`").cast("string")).otherwise(
        sql.lit(PLACEHOLDER)
    )
    renamed = renamed_inputs(frame.columns)
    with_error = frame.withColumn("__error", error).withColumn(
        "__prediction", predict(sql.struct(safe_text.alias(TEXT_FIELD)))
    )
    scorable = sql.col("__error").isNull()
    return with_error.select(
        *[sql.col(f"`{name}`").alias(renamed.get(name, name)) for name in frame.columns],
        sql.when(scorable, sql.col("__prediction.category")).alias("category"),
        sql.when(scorable, sql.col("__prediction.probability")).alias("probability"),
        sql.when(scorable, sql.col("__prediction.needs_review"))
        .otherwise(sql.lit(True))
        .alias("needs_review"),
        sql.col("__error").alias("error"),
    )


def score_with_spark(model_uri: str, source: Path, target: Path, text_column: str) -> None:
    """Score ``source`` into the folder ``target`` (CSV or Parquet part files, by its suffix)."""
    from prodcat.io.tables import table_format

    spark = spark_session()
    frame = read_table(spark, source)
    if text_column not in frame.columns:
        raise UserError(f"{source}: no column '{text_column}'; pass --text-column")
    scored = scored_frame(spark, frame, model_uri, text_column)
    writer = scored.write.mode("overwrite")
    if table_format(target) == "parquet":
        writer.parquet(str(target))
    else:
        writer.option("header", True).option("escape", '"').csv(str(target))
    logger.info("Spark wrote the predictions to %s (a folder of part files)", target)
